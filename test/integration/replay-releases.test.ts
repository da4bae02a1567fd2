/**
 * The upgrade guard: every history recorded from a release (scripts/record-histories.ts, one directory per
 * release under test/fixtures/histories/) replays against today's workflow code, with the run's workflow bundle
 * (the worker's interceptor modules baked in) and the worker's data converter (the AES-GCM payload codec).
 * A change to a workflow, or to decision code a workflow runs, that alters the commands of a history
 * recorded before fails here: wrap it in `patched()`, see the README ("The durable path", upgrades).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HISTORY_SCENARIOS } from '../support/history-scenarios.js';
import { replayFailures } from '../support/replay-guard.js';

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
