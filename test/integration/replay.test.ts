/**
 * Determinism guard: histories recorded from earlier runs (scripts/record-histories.ts) must replay against
 * today's workflow code. A change that would break in-flight workflows fails here, not in production.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import { Worker } from '@temporalio/worker';

const dir = 'test/fixtures/histories';
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json'));

function load(name: string): unknown {
  return JSON.parse(readFileSync(`${dir}/${name}`, 'utf8'));
}

describe('replaying recorded request workflows', () => {
  it('has a fixture for every way a request ends', () => {
    expect(fixtures.sort()).toEqual(['busy.json', 'catch-all.json', 'fallback.json', 'rejected.json', 'retry-after.json', 'success.json']);
  });

  for (const name of fixtures) {
    it(`replays ${name}`, async () => {
      await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, load(name), name);
    });
  }

  it('notices a history the code would not produce (the guard is not hollow)', async () => {
    const tampered = JSON.parse(JSON.stringify(load('fallback.json')).replaceAll('"callProvider"', '"someOtherActivity"'));
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, tampered, 'tampered'),
    ).rejects.toThrow(/[Nn]ondetermin|[Dd]eterminism/);
  });
});
