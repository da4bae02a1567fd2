/**
 * Records, from the code checked out now, one history per workflow branch (test/support/history-scenarios.ts)
 * into test/fixtures/histories/<release>/<workflowType>/<scenario>.json, plus a manifest. The replay guard
 * (test/integration/replay-releases.test.ts) replays every release's histories against the current workflow
 * code, so a change that would break workflows in flight fails CI.
 *
 *   npm run record-histories                  # release name: v<package version>-<short commit>
 *   npm run record-histories -- --release v0.2.0
 *
 * Record at a release commit, and keep the directories of earlier releases: their workflows may still be
 * running somewhere when the next release rolls out.
 *
 * Payloads are recorded in plaintext (no GATEWAY_PAYLOAD_KEYS, durable.payloadEncryption optional): fixtures stay
 * readable in review, and no key has to live in the repository. The guard replays them through the same
 * AES-GCM codec the worker runs, which passes plaintext payloads through, as it does for history from before
 * encryption.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { parseConfig } from '../src/config/load.js';
import { startGateway } from '../src/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import { freePort, startDevServer } from '../src/durable/dev-server.js';
import { ensureTemporalCli } from '../src/durable/temporal-cli.js';
import { PAYLOAD_KEYS_ENV } from '../src/durable/payload-keys.js';
import { modelDirForTests } from '../test/support/model-dir.js';
import { startFakeProvider } from '../test/fake-provider/server.js';
import { HISTORY_SCENARIOS, RECORDING_YAML, historyFile, type BatchScenario, type RequestScenario } from '../test/support/history-scenarios.js';

type History = temporal.api.history.v1.IHistory;

const args = process.argv.slice(2);
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
const release = args.includes('--release') ? args[args.indexOf('--release') + 1]! : `v${pkg.version}-${commit}`;
if (!/^[\w.-]+$/.test(release)) throw new Error(`--release needs a name of letters, digits, '.', '_' or '-' (got '${release}')`);
const outDir = join('test/fixtures/histories', release);

delete process.env[PAYLOAD_KEYS_ENV];
process.env.GATEWAY_EMBEDDING_MODEL_DIR = modelDirForTests();
const work = mkdtempSync(join(tmpdir(), 'record-histories-'));
const fake = await startFakeProvider();
const dev = await startDevServer({ cli: ensureTemporalCli(), port: await freePort(), uiPort: false, namespace: 'default' });
const taskQueue = `record-${randomUUID()}`;
const yaml = `${RECORDING_YAML.replaceAll('{{FAKE}}', fake.url).replaceAll('{{DIR}}', work)}
durable: { temporal: { taskQueue: ${taskQueue} }, heartbeatTimeoutMs: 2000, payloadEncryption: optional }
`;
const gateway = await startGateway(parseConfig(yaml, 'record-histories', {}), { port: 0, logger: createLogger('silent'), temporalAddress: dev.address });
const client = new Client({ connection: await Connection.connect({ address: dev.address }) });
const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });

const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 20_000) => {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
};

/** Every run of a workflow, first to last, following continue-as-new back from the latest run. */
async function runsOf(workflowId: string): Promise<History[]> {
  const runs: History[] = [];
  let runId: string | undefined;
  for (;;) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    runs.unshift(history);
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
    if (!runId) return runs;
  }
}

/** How the last run ended, in a scenario's `ends` terms: a fixture that missed its branch is not recorded. */
function endOf(last: History): string {
  const event = last.events?.at(-1);
  if (event?.workflowExecutionFailedEventAttributes) return 'failed';
  if (event?.workflowExecutionCanceledEventAttributes) return 'cancelled';
  const payload = event?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0]?.data;
  if (!payload) return `ended with event ${event?.eventType}`;
  const result = JSON.parse(Buffer.from(payload).toString('utf8')) as { outcome?: string; catchAll?: string; cascade?: string; status?: string };
  if (result.status) return result.status;
  return `${result.outcome}${result.catchAll ? `:${result.catchAll}` : ''}${result.cascade ? ` ${result.cascade}` : ''}`;
}

async function settled(workflowId: string): Promise<void> {
  await client.workflow.getHandle(workflowId).result().catch((err: unknown) => {
    if (!(err instanceof WorkflowFailedError)) throw err;
  });
}

async function recordRequest(s: RequestScenario): Promise<string> {
  if (s.warmCache) {
    const post = (headers: Record<string, string>) =>
      fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: s.warmCache }] }) });
    await post({});
    await until('the cache to store the answer', async () => (await post({ 'x-gateway-cache': 'no-store' })).headers.get('x-gateway-cache') === 'hit');
  }
  for (const [model, steps] of Object.entries(s.scripts ?? {})) fake.scriptFor(model, ...steps);
  const res = await fetch(`${gateway.url}/v1/requests`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: s.model, messages: [{ role: 'user', content: s.prompt }] }),
  });
  const { id } = (await res.json()) as { id: string };
  if (s.cancel) {
    await until('the call to be held upstream', () => fake.held === 1);
    await fetch(`${gateway.url}/v1/requests/${id}`, { method: 'DELETE' });
    await client.workflow.getHandle(id).result().catch(() => undefined);
    fake.release();
  } else await settled(id);
  return id;
}

async function recordBatch(s: BatchScenario): Promise<string> {
  for (const [model, steps] of Object.entries(s.scripts ?? {})) fake.scriptFor(model, ...steps);
  const lines = Array.from({ length: s.lines }, (_, i) =>
    JSON.stringify({ custom_id: `line-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: s.badLine && i === 1 ? 'no-such-alias' : 'solo', messages: [{ role: 'user', content: `batch line ${i}` }] } }),
  );
  const file = await openai.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), `${s.name}.jsonl`), purpose: 'batch' });
  const batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  if (s.cancel) {
    await until('a line to be held upstream', () => fake.held >= 1);
    await openai.batches.cancel(batch.id);
    await until('the cancelled batch to end', async () => (await openai.batches.retrieve(batch.id)).status === 'cancelled');
    fake.release();
  }
  await settled(batch.id);
  return batch.id;
}

rmSync(outDir, { recursive: true, force: true });
const manifest: Array<{ workflow: string; name: string; branch: string; files: string[]; events: number[] }> = [];
try {
  for (const s of HISTORY_SCENARIOS) {
    fake.reset();
    const id = s.workflow === 'requestWorkflow' ? await recordRequest(s) : await recordBatch(s);
    const runs = await runsOf(id);
    const ended = endOf(runs.at(-1)!);
    if (ended !== s.ends) throw new Error(`${s.workflow}/${s.name} should end '${s.ends}' but ended '${ended}': the scenario missed its branch`);
    if (s.workflow === 'batchWorkflow' && s.name.includes('continue-as-new') && runs.length < 2) throw new Error(`${s.name} ran in one run: no continue-as-new`);
    const files = runs.map((history, run) => {
      const file = historyFile(s, run);
      mkdirSync(dirname(join(outDir, file)), { recursive: true });
      writeFileSync(join(outDir, file), `${historyToJSON(history)}\n`);
      return file;
    });
    manifest.push({ workflow: s.workflow, name: s.name, branch: s.branch, files, events: runs.map((h) => h.events?.length ?? 0) });
    console.log(`recorded ${s.workflow}/${s.name}: ${files.length} run(s), ${runs.map((h) => h.events?.length).join('+')} events`);
  }
  writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify({ release, commit, recordedAt: new Date().toISOString(), scenarios: manifest }, null, 2)}\n`);
  console.log(`wrote ${outDir}`);
} finally {
  await gateway.close();
  await client.connection.close();
  await dev.stop();
  await fake.close();
  rmSync(work, { recursive: true, force: true });
}
