/**
 * The workflow branches a release's recorded histories must cover (scripts/record-histories.ts records them,
 * test/integration/replay-releases.test.ts replays them and checks a release has every one). A new branch in a
 * workflow gets a scenario here; the guard then fails until it is recorded.
 *
 * The config is a template: `{{FAKE}}` is the fake provider's URL, `{{DIR}}` a fresh directory.
 */
import type { Step } from '../fake-provider/server.js';

export const RECORDING_YAML = `
auth: { mode: none }
health: { breaker: { consecutiveFailures: 1000000, minRequests: 1000000 } }
server: { host: 127.0.0.1 }
batches: { dir: "{{DIR}}/batches", linesPerChunk: 1, maxConcurrentLines: 2, linesPerRun: 2 }
cache:
  enabled: true
  store: { kind: embedded, dir: "{{DIR}}/cache" }
  catchAllThreshold: 0.5
providers:
  oa: { type: openai, baseUrl: "{{FAKE}}/v1", apiKey: sk-record-upstream }
  an: { type: anthropic, baseUrl: "{{FAKE}}", apiKey: sk-ant-record-upstream }
deployments:
  oa-main: { provider: oa, model: gpt-main }
  oa-second: { provider: oa, model: gpt-second }
  an-main: { provider: an, model: claude-main }
  oa-small: { provider: oa, model: gpt-small, tier: 3 }
  casc-small: { provider: oa, model: m-casc-small }
  casc-large: { provider: oa, model: m-casc-large }
  judge-oa: { provider: oa, model: m-judge }
models:
  chat:
    groups: [{ deployments: [oa-main] }, { deployments: [oa-second] }, { deployments: [an-main] }]
    downgrade: small
    fallback: { catchAll: { presetAnswer: "Busy, try later." } }
  small: { groups: [{ deployments: [oa-small] }] }
  solo: { groups: [{ deployments: [oa-main] }] }
  tier-small: { groups: [{ deployments: [casc-small] }] }
  tier-large: { groups: [{ deployments: [casc-large] }] }
  grader: { groups: [{ deployments: [judge-oa] }] }
  judged:
    cascade:
      stages: [tier-small, tier-large]
      evaluators: [{ type: rules, minChars: 10 }, { type: judge, alias: grader, minScore: 7 }]
defaults:
  fallback: { attemptsPerDeployment: 2, backoff: { baseMs: 10, capMs: 20 }, maxRetryAfterMs: 3000 }
`;

const err = (status: number, extra: Partial<Extract<Step, { kind: 'error' }>> = {}): Step => ({ kind: 'error', status, ...extra });

export interface RequestScenario {
  workflow: 'requestWorkflow';
  name: string;
  /** The branch of the workflow it takes, for the manifest and the reader of a failing replay. */
  branch: string;
  /** How it must end (checked when recording): outcome[:catch-all source][ cascade], failed or cancelled. */
  ends: string;
  model: string;
  prompt: string;
  /** Per-model fake-provider scripts. */
  scripts?: Record<string, Step[]>;
  /** Hold the first upstream call, cancel the request (DELETE), then release. */
  cancel?: boolean;
  /** Before it runs: this prompt is answered and stored in the cache (for the stale-cache catch-all). */
  warmCache?: string;
}

export interface BatchScenario {
  workflow: 'batchWorkflow';
  name: string;
  branch: string;
  /** The batch's final status (checked when recording). */
  ends: string;
  lines: number;
  /** Per-model scripts; with `cancel`, the batch is cancelled once a line is held. */
  scripts?: Record<string, Step[]>;
  cancel?: boolean;
  /** A line that fails validation (the batch fails before any line runs). */
  badLine?: boolean;
}

export type HistoryScenario = RequestScenario | BatchScenario;

const allDown: Record<string, Step[]> = {
  'gpt-main': [err(503), err(503)],
  'gpt-second': [err(503), err(503)],
  'claude-main': [err(529), err(529)],
  'gpt-small': [err(502), err(502)],
};

export const HISTORY_SCENARIOS: HistoryScenario[] = [
  { workflow: 'requestWorkflow', name: 'answer', ends: 'success', branch: 'first call answers', model: 'chat', prompt: 'record a plain answer' },
  { workflow: 'requestWorkflow', name: 'retry', ends: 'fallback', branch: 'retry on the same deployment (durable timer), then an answer', model: 'chat', prompt: 'record a retry', scripts: { 'gpt-main': [err(500)] } },
  { workflow: 'requestWorkflow', name: 'retry-after', ends: 'fallback', branch: '429 with Retry-After, waited, then an answer', model: 'solo', prompt: 'record a retry-after', scripts: { 'gpt-main': [err(429, { retryAfterMs: 200 })] } },
  { workflow: 'requestWorkflow', name: 'switch', ends: 'fallback', branch: 'deployment exhausted: switch to the next deployment', model: 'chat', prompt: 'record a switch', scripts: { 'gpt-main': [err(500), err(500)] } },
  {
    workflow: 'requestWorkflow',
    name: 'downgrade',
    ends: 'fallback',
    branch: 'every deployment of the alias failed: the downgrade alias answers',
    model: 'chat',
    prompt: 'record a downgrade',
    scripts: { 'gpt-main': [err(503), err(503)], 'gpt-second': [err(503), err(503)], 'claude-main': [err(529), err(529)] },
  },
  { workflow: 'requestWorkflow', name: 'rejected', ends: 'failed', branch: 'a 400: the error goes back to the client', model: 'chat', prompt: 'record a rejection', scripts: { 'gpt-main': [err(400)] } },
  {
    workflow: 'requestWorkflow',
    name: 'catch-all-stale-cache',
    ends: 'catch_all:cache',
    branch: 'nothing answers: catch-all serves a stale cached answer',
    model: 'chat',
    prompt: 'when does the museum open',
    warmCache: 'What are the opening hours of the museum?',
    scripts: allDown,
  },
  { workflow: 'requestWorkflow', name: 'catch-all-preset', ends: 'catch_all:preset', branch: 'nothing answers, nothing cached: the preset answer', model: 'chat', prompt: 'record something unrelated to anything cached', scripts: allDown },
  { workflow: 'requestWorkflow', name: 'busy', ends: 'failed', branch: 'nothing answers, no catch-all: service busy', model: 'solo', prompt: 'record a busy', scripts: { 'gpt-main': [err(502), err(502)] } },
  {
    workflow: 'requestWorkflow',
    name: 'cascade-judge-accepts',
    ends: 'success tier-small:accepted',
    branch: 'cascade: the small stage passes the rules and the judge',
    model: 'judged',
    prompt: 'record a cascade the judge accepts',
    scripts: { 'm-judge': [{ kind: 'reply', text: '{"score": 9, "reason": "fine"}' }] },
  },
  {
    workflow: 'requestWorkflow',
    name: 'cascade-judge-escalates',
    ends: 'success tier-small:rejected(judge),tier-large:unevaluated',
    branch: 'cascade: the judge rejects the small answer, the large stage answers',
    model: 'judged',
    prompt: 'record a cascade the judge escalates',
    scripts: { 'm-judge': [{ kind: 'reply', text: '{"score": 2, "reason": "too short"}' }] },
  },
  { workflow: 'requestWorkflow', name: 'cancelled', ends: 'cancelled', branch: 'cancelled during the provider call (charged, then cancelled)', model: 'chat', prompt: 'record a cancellation', cancel: true, scripts: { 'gpt-main': [{ kind: 'hold' }] } },
  {
    workflow: 'requestWorkflow',
    name: 'cascade-cancelled',
    ends: 'cancelled',
    branch: 'cancelled during a cascade stage: the cascade ends (cascade-cancel-is-final)',
    model: 'judged',
    prompt: 'record a cascade cancellation',
    cancel: true,
    scripts: { 'm-casc-small': [{ kind: 'hold' }] },
  },
  { workflow: 'batchWorkflow', name: 'batch-continue-as-new', ends: 'completed', branch: '5 lines, 2 per run: three runs chained by continue-as-new, one line retried', lines: 5, scripts: { 'gpt-main': [err(429, { retryAfterMs: 50 })] } },
  { workflow: 'batchWorkflow', name: 'batch-cancelled', ends: 'cancelled', branch: 'cancelled with a line in flight: finalized as cancelled', lines: 3, cancel: true, scripts: { 'gpt-main': [{ kind: 'hold' }] } },
  { workflow: 'batchWorkflow', name: 'batch-invalid', ends: 'failed', branch: 'a line fails validation: the batch fails before running', lines: 2, badLine: true },
];

/** Where a scenario's histories go inside a release's directory: one file per run (batches may have several). */
export function historyFile(scenario: HistoryScenario, run = 0): string {
  return `${scenario.workflow}/${scenario.name}${run > 0 ? `.run${run + 1}` : ''}.json`;
}
