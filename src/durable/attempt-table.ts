/** The workflow's live "current details": a markdown table of attempts, readable in the Temporal UI. Pure. */
import type { Attempt } from '../decision/attempt.js';

const cell = (v: unknown) => String(v ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A live stream's story in one phrase: how many chunks the call delivered and where it ended. */
export function streamNote(a: Attempt): string {
  if (a.chunks === undefined) return '';
  if (a.outcome === 'ok') return `streamed ${a.chunks} chunks · ended: ${a.streamEnd ?? 'stop'}`;
  return `cut after ${a.chunks} chunks: ${a.outcome === 'worker_lost' ? 'worker lost' : (a.streamEnd ?? a.kind ?? 'error')}`;
}

function result(a: Attempt): string {
  const base = a.outcome === 'ok' ? 'ok' : a.outcome === 'skipped' ? 'breaker open' : a.outcome === 'worker_lost' ? 'worker lost' : `${a.kind}${a.status ? ` ${a.status}` : ''}`;
  const note = streamNote(a);
  return cell(!note ? base : a.outcome === 'ok' ? `ok · ${note}` : note);
}

export function attemptTable(alias: string, attempts: readonly Attempt[], status: string): string {
  const rows = attempts.map(
    (a, i) =>
      `| ${i + 1} | ${cell(`${a.provider}/${a.deployment}`)} | ${a.stage} | ${a.attempt} | ${result(a)} | ${Math.round(a.latencyMs)} ms | ${cell(a.next ?? '')} |`,
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
  const cut = previous?.chunks !== undefined ? ` (${streamNote(previous)})` : '';
  const why =
    previous && previous.outcome === 'error'
      ? ` · after ${previous.kind}${previous.status ? ` ${previous.status}` : ''} on ${previous.deployment}${cut}`
      : previous?.outcome === 'worker_lost' && cut
        ? ` · after worker lost${cut}`
        : '';
  return `${provider}/${deployment} · ${stage} · attempt ${attemptNo}${why}`.slice(0, 200);
}
