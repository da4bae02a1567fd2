/** The workflow's live "current details": a markdown table of attempts, readable in the Temporal UI. Pure. */
import type { Attempt } from '../decision/attempt.js';

const cell = (v: unknown) => String(v ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function attemptTable(alias: string, attempts: readonly Attempt[], status: string): string {
  const rows = attempts.map(
    (a, i) =>
      `| ${i + 1} | ${cell(`${a.provider}/${a.deployment}`)} | ${a.stage} | ${a.attempt} | ${a.outcome === 'ok' ? 'ok' : a.outcome === 'skipped' ? 'breaker open' : cell(`${a.kind}${a.status ? ` ${a.status}` : ''}`)} | ${Math.round(a.latencyMs)} ms | ${cell(a.next ?? '')} |`,
  );
  return [
    `**${cell(alias)}** — ${cell(status)}`,
    '',
    '| # | deployment | stage | try | result | latency | then |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** One line for an activity's summary (≤ 200 bytes in the UI's list). */
export function callSummary(provider: string, deployment: string, stage: string, attemptNo: number, previous?: Attempt): string {
  const why = previous && previous.outcome === 'error' ? ` · after ${previous.kind}${previous.status ? ` ${previous.status}` : ''} on ${previous.deployment}` : '';
  return `${provider}/${deployment} · ${stage} · attempt ${attemptNo}${why}`.slice(0, 200);
}
