/** The peers benchmark's result shapes and its Markdown: one table, the versions, the failures in full. */
import type { Added, Phase } from './load.js';
import { productionNodeFlags } from './launch.js';
import { mdTable } from './report.js';
import type { Summary } from './stats.js';

export interface Failed {
  failed: string;
}
export type Measured<T> = T | Failed;

export const isFailed = <T extends object>(m: Measured<T> | undefined): m is Failed => m !== undefined && 'failed' in m;

export interface LatencyResult {
  directMs: Summary;
  targetMs: Summary;
  added: Added;
  failedRequests: number;
}

export interface ThroughputResult {
  directRps: number;
  targetRps: number;
  ratio: number;
  rssMb?: Summary;
  failedRequests: number;
  phases: Phase[];
}

export interface BlockResult {
  key: string;
  label: string;
  version: string;
  startFailed?: string;
  startSeconds?: number;
  c1?: Measured<LatencyResult>;
  stream?: Measured<LatencyResult>;
  c64?: Measured<ThroughputResult>;
}

export interface PeersMeta {
  date: string;
  node: string;
  python: string;
  cpus: number;
  cpuModel: string;
  loadavgBefore: number[];
  loadavgAfter: number[];
  quick: boolean;
  seconds: number;
}

interface Settings {
  sequential: { warmup: number; requests: number; maxMs: number };
  streaming: { warmup: number; requests: number; maxMs: number };
  throughput: { concurrency: number; rounds: number; phaseMs: number; warmupMs: number };
}

const ms = (x: number) => x.toFixed(2);
const ratio = (x: number) => (x >= 10 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const ok = <T extends object>(m: Measured<T> | undefined): T | undefined => (m === undefined || isFailed(m) ? undefined : m);

const FAILED = (what: string) => `**failed** (${what})`;

function cell<T extends object>(m: Measured<T> | undefined, note: string, show: (v: T) => string): string {
  if (m === undefined) return '—';
  return isFailed(m) ? FAILED(note) : show(m);
}

/** Ratios against the minimal proxy, taken as ratios of ratios (each measured against direct in its own block). */
function proxyBaseline(blocks: BlockResult[]) {
  const proxy = blocks.find((b) => b.key === 'proxy');
  return { c64: ok(proxy?.c64), c1: ok(proxy?.c1) };
}

/**
 * Why a peer's measurement fails, where that was traced (its own log): the note then says so beside the error.
 * Portkey 1.15.2 streams: for each one it appends a header to the upstream fetch Response's Headers, which
 * Node's fetch (undici) makes immutable: `TypeError: immutable` at `updateHeaders` in build/start-server.js.
 */
function withKnownCause(b: BlockResult, failed: Failed): Failed {
  if (b.key === 'portkey' && /HTTP 500/.test(failed.failed)) {
    return {
      failed: `${failed.failed} — every streamed request fails so: its log shows \`TypeError: immutable\` where it appends a header to the upstream fetch Response's headers, which Node ${process.versions.node.split('.')[0]}'s fetch makes immutable; its non-stream route works`,
    };
  }
  return failed;
}

export function peersMarkdown(blocks: BlockResult[], meta: PeersMeta, settings: Settings): string {
  const base = proxyBaseline(blocks);
  const notes: string[] = [];
  const noteFor = (b: BlockResult, what: string, failed: Failed) => {
    notes.push(`- ${b.label}, ${what}: ${failed.failed.replaceAll('\n', ' ')}`);
    return `see note ${notes.length}`;
  };

  const directRps = blocks.map((b) => ok(b.c64)?.directRps).filter((x): x is number => x !== undefined);
  const directC1 = blocks.map((b) => ok(b.c1)?.directMs.p50).filter((x): x is number => x !== undefined);
  const directTtft = blocks.map((b) => ok(b.stream)?.directMs.p50).filter((x): x is number => x !== undefined);
  const span = (xs: number[], f: (x: number) => string) => (xs.length === 0 ? '—' : `${f(Math.min(...xs))}–${f(Math.max(...xs))}`);
  const rows: string[][] = [
    [
      'direct (the upstream, no hop)',
      '—',
      span(directRps, String),
      '1',
      base.c64 ? ratio(1 / base.c64.ratio) : '—',
      `0 (p50 itself: ${span(directC1, ms)} ms)`,
      '—',
      `0 (TTFT p50 itself: ${span(directTtft, ms)} ms)`,
      '—',
    ],
  ];
  for (const b of blocks) {
    if (b.startFailed) {
      const n = noteFor(b, 'start', { failed: b.startFailed });
      rows.push([b.label, b.version, FAILED(`did not start, ${n}`), '', '', '', '', '', '']);
      continue;
    }
    const c64 = b.c64;
    const c1 = b.c1;
    const st = b.stream;
    const c64ok = ok(c64);
    const c1ok = ok(c1);
    rows.push([
      b.label,
      b.version,
      cell(c64, isFailed(c64) ? noteFor(b, 'c=64', c64) : '', (v) => String(v.targetRps)),
      c64ok ? ratio(c64ok.ratio) : '—',
      c64ok && base.c64 ? ratio(c64ok.ratio / base.c64.ratio) : '—',
      cell(c1, isFailed(c1) ? noteFor(b, 'c=1', c1) : '', (v) => `${ms(v.added.p50)} / ${ms(v.added.p99)}`),
      c1ok && base.c1 && b.key !== 'proxy' ? `${ratio(c1ok.added.p50 / base.c1.added.p50)} / ${ratio(c1ok.added.p99 / base.c1.added.p99)}` : '—',
      cell(st, isFailed(st) ? noteFor(b, 'stream', withKnownCause(b, st)) : '', (v) => `${ms(v.added.p50)} / ${ms(v.added.p99)}`),
      c64ok?.rssMb ? `${c64ok.rssMb.p50.toFixed(0)} / ${c64ok.rssMb.max.toFixed(0)}` : '—',
    ]);
  }

  const failedRequests = blocks
    .map((b) => ({ b, n: (ok(b.c1)?.failedRequests ?? 0) + (ok(b.stream)?.failedRequests ?? 0) + (ok(b.c64)?.failedRequests ?? 0) }))
    .filter(({ n }) => n > 0)
    .map(({ b, n }) => `- ${b.label}: ${n} failed request(s) within measurements that went on (left out of the statistics)`);

  const gw = blocks.find((b) => b.key === 'gateway');
  const gwC64 = ok(gw?.c64);
  const gwC1 = ok(gw?.c1);
  const versus = blocks
    .filter((b) => b.key !== 'gateway' && b.key !== 'proxy')
    .map((b) => {
      const c64 = ok(b.c64);
      const c1 = ok(b.c1);
      if (!gwC64 || !c64 || !gwC1 || !c1) return undefined;
      return `- ${b.label}: this gateway serves ${ratio(gwC64.ratio / c64.ratio)}× its c=64 throughput and adds ${ratio(c1.added.p50 / gwC1.added.p50)}× less latency at c=1 (p50)`;
    })
    .filter((s): s is string => s !== undefined);

  const { sequential: sq, streaming: sm, throughput: tp } = settings;
  return [
    '# Peers: this gateway, Portkey and LiteLLM against the same upstream',
    '',
    `Run ${meta.date} · Node ${meta.node} · Python ${meta.python} · ${meta.cpus} CPUs (${meta.cpuModel}) · load average ${meta.loadavgBefore[0]} before, ${meta.loadavgAfter[0]} after · ${meta.seconds.toFixed(0)} s${meta.quick ? ' · QUICK run (noisy)' : ''}`,
    '',
    `Machine: ${meta.cpus} cores shared with the load generator, the upstream and other people's work, so absolute`,
    'numbers move from run to run; the ratios are the figures to read. Every target is a separate process in front',
    'of the same fake provider (zero delay, test/fake-provider), started only for its own block and measured against',
    'calling the fake provider directly in that block, interleaved: concurrency 1 request by request',
    `(${sq.requests} each after ${sq.warmup} warm-up, or fewer if that takes over ${sq.maxMs / 1000} s: n is in peers.json), streaming likewise`,
    `(${sm.requests} each or ${sm.maxMs / 1000} s, time to the first content`,
    `event), concurrency ${tp.concurrency} in alternating ${tp.phaseMs / 1000} s phases with direct (${tp.rounds} rounds each, after`,
    `${tp.warmupMs / 1000} s of warm-up). "Added" = target − direct at the same percentile. "÷ direct" = target req/s ÷ direct`,
    'req/s in its block; "÷ minimal proxy" = that ratio ÷ the minimal proxy\'s (throughput), or added latency ÷ the',
    'minimal proxy\'s added latency (latency). RSS: the target\'s processes (workers included), sampled every 250 ms',
    `under the c=${tp.concurrency} load, median / peak.`,
    '',
    ...mdTable(
      ['target', 'version', `c=${tp.concurrency} req/s`, '÷ direct', '÷ minimal proxy', 'c=1 added p50 / p99 (ms)', 'c=1 added ÷ minimal proxy, p50 / p99', 'stream added TTFT p50 / p99 (ms)', 'RSS under load (MB)'],
      rows,
    ),
    '',
    ...(versus.length > 0 ? ['Side by side:', '', ...versus, ''] : []),
    'How each target runs:',
    '',
    '- minimal Node pass-through: `bench/null-proxy.ts` (node:http in, undici out, the model name rewritten, nothing else);',
    '  the floor one extra Node process hop sets on this machine.',
    `- this gateway: \`node ${productionNodeFlags().join(' ')} dist/main.js\` (the compiled build, as \`npm run start:prod\`), gateway keys checked, logging at \`info\` (a line per`,
    '  request), metrics on, the fast path (`durable: { enabled: false }`).',
    '- Portkey gateway: `@portkey-ai/gateway` from npm in `.tools/portkey` (`start-server.js --headless`), each request',
    '  with `x-portkey-provider: openai` and `x-portkey-custom-host: <upstream>/v1`; it checks no client key.',
    '- LiteLLM proxy: `litellm[proxy]` from PyPI in `.tools/litellm`, a `model_list` entry `openai/<model>` with',
    '  `api_base: <upstream>/v1`, a master key checked, `--num_workers 1` and `2`, its default logging.',
    '',
    ...(notes.length > 0 ? ['Failures (each measurement that could not be made, with its first error):', '', ...notes.map((n, i) => n.replace(/^- /, `${i + 1}. `)), ''] : []),
    ...(failedRequests.length > 0 ? [...failedRequests, ''] : []),
    'Raw numbers: `peers.json`. Reproduce with `npm run bench:peers` (installs the pinned peers into `.tools/` on first use).',
    '',
  ].join('\n');
}
