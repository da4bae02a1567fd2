/**
 * The upgrade guard: every history recorded from a release (scripts/record-histories.ts, one directory per
 * release under test/fixtures/histories/) replays against today's workflow code, with the run's workflow bundle
 * (the worker's interceptor modules baked in) and the worker's data converter (the AES-GCM payload codec).
 * A change to a workflow, or to decision code a workflow runs, that alters the commands of a history
 * recorded before fails here: wrap it in `patched()`, see the README ("The durable path", upgrades).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOWS_PATH } from '../../src/durable/worker.js';
import { workflowInterceptorModules } from '../../src/observability/workflow-modules.js';
import { HISTORY_SCENARIOS } from '../support/history-scenarios.js';
import { replayFailures, replayOptions } from '../support/replay-guard.js';

const ROOT = 'test/fixtures/histories';

interface Manifest {
  release: string;
  recordedAt: string;
  scenarios: Array<{ workflow: string; name: string; branch: string; files: string[] }>;
}

const releases: Manifest[] = readdirSync(ROOT)
  .filter((d) => statSync(join(ROOT, d)).isDirectory() && existsSync(join(ROOT, d, 'manifest.json')))
  .map((d) => JSON.parse(readFileSync(join(ROOT, d, 'manifest.json'), 'utf8')) as Manifest)
  .sort((a, b) => a.recordedAt.localeCompare(b.recordedAt));

const workflowTypes = [...readFileSync('workflows/index.ts', 'utf8').matchAll(/export \{ (\w+Workflow)\b/g)].map((m) => m[1]!);

describe('recorded releases replay against the current workflow code', () => {
  it('has a release whose histories cover every workflow type and every scenario', () => {
    expect(workflowTypes.sort()).toEqual(['batchWorkflow', 'requestWorkflow']);
    const latest = releases.at(-1);
    expect(latest, `no release under ${ROOT}: run npm run record-histories`).toBeDefined();
    const recorded = latest!.scenarios.map((s) => `${s.workflow}/${s.name}`).sort();
    expect(recorded, `${latest!.release} lacks scenarios of test/support/history-scenarios.ts: record them`).toEqual(HISTORY_SCENARIOS.map((s) => `${s.workflow}/${s.name}`).sort());
    expect(new Set(latest!.scenarios.map((s) => s.workflow))).toEqual(new Set(workflowTypes));
  });

  for (const release of releases) {
    it(`replays every history of ${release.release}`, async () => {
      const histories = release.scenarios.flatMap((s) =>
        s.files.map((file) => ({ workflowId: `${release.release}/${file}`, history: JSON.parse(readFileSync(join(ROOT, release.release, file), 'utf8')) as unknown })),
      );
      expect(histories.length).toBeGreaterThanOrEqual(release.scenarios.length);
      expect(await replayFailures(histories), 'a workflow change breaks histories recorded by this release: wrap it in patched() (README: upgrades)').toEqual([]);
    }, 60_000);
  }
});

const VARIANT_DIR = fileURLToPath(new URL('../support/decision-variant/', import.meta.url));
const VARIANT_FALLBACK = join(VARIANT_DIR, 'fallback.ts');

/** The real workflows bundled with src/decision/fallback.ts swapped for the variant (outside the variant itself). */
async function bundleWithTunedDecision(): Promise<string> {
  const swap = {
    apply(compiler: { hooks: { normalModuleFactory: { tap(name: string, fn: (nmf: { hooks: { beforeResolve: { tap(name: string, fn: (data: { request: string; context: string }) => void): void } } }) => void): void } } }) {
      compiler.hooks.normalModuleFactory.tap('tuned-decision', (nmf) =>
        nmf.hooks.beforeResolve.tap('tuned-decision', (data) => {
          if (/(^|\/)decision\/fallback(\.js)?$/.test(data.request) && !data.context.startsWith(dirname(VARIANT_FALLBACK))) data.request = VARIANT_FALLBACK;
        }),
      );
    },
  };
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: workflowInterceptorModules({ tracing: false }),
    webpackConfigHook: (config) => ({ ...config, plugins: [...(config.plugins ?? []), swap] }),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
  });
  expect(code, 'the variant was bundled in place of src/decision/fallback.ts').toContain('not switched (tuned)');
  const path = join(mkdtempSync(join(tmpdir(), 'tuned-decision-')), 'workflows.js');
  writeFileSync(path, code);
  return path;
}

describe('the guard covers decision code the workflow runs', () => {
  it('a change to src/decision alone (no switching after a failed deployment) fails the replay of the switch and downgrade histories', async () => {
    const latest = releases.at(-1)!;
    const pick = (name: string) => latest.scenarios.find((s) => s.workflow === 'requestWorkflow' && s.name === name)!;
    const histories = [pick('switch'), pick('downgrade'), pick('answer'), pick('retry')].map((s) => ({
      workflowId: s.name,
      history: JSON.parse(readFileSync(join(ROOT, latest.release, s.files[0]!), 'utf8')) as unknown,
    }));
    const failures = await replayFailures(histories, replayOptions(await bundleWithTunedDecision()));
    expect(failures.map((f) => f.split(':')[0]).sort()).toEqual(['downgrade', 'switch']);
    expect(failures.join('\n')).toMatch(/[Nn]ondetermin/);
  }, 120_000);
});
