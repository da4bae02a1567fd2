/**
 * The durable benchmark's baseline, measured in the same run on the same dev server as the gateway: a minimal
 * one-activity workflow (baseline-workflow.ts) on its own worker process, started and awaited by this process
 * (start + result, as the gateway's client does). What Temporal itself costs here, so the gateway's durable
 * path is judged as a share of it rather than against an absolute number the machine may not reach.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { BenchError } from './children.js';
import { startUrlChild, type UrlChild } from './fake.js';
import { ROOT } from './paths.js';
import { Errors, summarize, type Summary } from './stats.js';

export const BASELINE_TASK_QUEUE = 'bench-baseline';

export function startBaselineWorker(address: string): Promise<UrlChild> {
  return startUrlChild('baseline worker', [path.join(ROOT, 'bench/lib/baseline-worker.ts'), address, BASELINE_TASK_QUEUE]);
}

let seq = 0;

/** One baseline workflow, start → result, timed. */
export async function baselineOnce(client: Client): Promise<number> {
  const t0 = performance.now();
  const n = ++seq;
  const out = await client.workflow.execute('baselineWorkflow', { taskQueue: BASELINE_TASK_QUEUE, workflowId: `baseline-${randomUUID()}`, args: [n] });
  const ms = performance.now() - t0;
  if ((out as { n?: number })?.n !== n) throw new BenchError(`baseline workflow answered ${JSON.stringify(out)}`);
  return ms;
}

export interface BaselineLatency {
  requests: number;
  latencyMs: Summary;
  errors: number;
}

export async function baselineLatency(client: Client, warmup: number, requests: number): Promise<BaselineLatency> {
  const errors = new Errors('baseline c=1');
  const ms: number[] = [];
  for (let i = 0; i < warmup + requests; i++) {
    try {
      const m = await baselineOnce(client);
      if (i >= warmup) ms.push(m);
    } catch (err) {
      errors.record(err);
    }
  }
  return { requests, latencyMs: summarize(ms), errors: errors.total };
}

export interface BaselineThroughput {
  concurrency: number;
  /** The windows it was measured in (bracketed: before and after the gateway's), req/s. */
  rpsRuns: number[];
  windowMs: number;
  completed: number;
  rps: number;
  latencyMs: Summary;
  errors: number;
  firstError?: string;
}

/** Closed loop like the gateway's: completions counted inside the window after the warm-up. */
export async function baselineThroughput(client: Client, concurrency: number, warmupMs: number, windowMs: number): Promise<BaselineThroughput> {
  const from = performance.now() + warmupMs;
  const to = from + windowMs;
  const inWindow: number[] = [];
  const errors = new Errors(`baseline c=${concurrency}`);
  const worker = async () => {
    while (performance.now() < to) {
      try {
        const ms = await baselineOnce(client);
        const end = performance.now();
        if (end >= from && end < to) inWindow.push(ms);
      } catch (err) {
        errors.record(err);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {
    concurrency,
    windowMs,
    completed: inWindow.length,
    rps: Math.round((inWindow.length / windowMs) * 1000 * 10) / 10,
    rpsRuns: [Math.round((inWindow.length / windowMs) * 1000 * 10) / 10],
    latencyMs: summarize(inWindow),
    errors: errors.total,
    ...(errors.firstMessage ? { firstError: errors.firstMessage } : {}),
  };
}

/** Two windows as one: req/s averaged, counts summed, the latency summary of the window with more samples. */
export function bracketed(a: BaselineThroughput, b: BaselineThroughput): BaselineThroughput {
  return {
    concurrency: a.concurrency,
    rpsRuns: [...a.rpsRuns, ...b.rpsRuns],
    windowMs: a.windowMs + b.windowMs,
    completed: a.completed + b.completed,
    rps: Math.round(((a.rps + b.rps) / 2) * 10) / 10,
    latencyMs: a.latencyMs.n >= b.latencyMs.n ? a.latencyMs : b.latencyMs,
    errors: a.errors + b.errors,
    ...((a.firstError ?? b.firstError) ? { firstError: a.firstError ?? b.firstError } : {}),
  };
}
