/** Replaying histories as the worker would run them (the replay guard and the upgrade test). */
import { inject } from 'vitest';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { dataConverterOf } from '../../src/durable/connection.js';
import { AesGcmPayloadCodec } from '../../src/durable/payload-codec.js';
import { newPayloadKeyEntry, parsePayloadKeys } from '../../src/durable/payload-keys.js';
import { durableMetricsSinks } from '../../src/observability/durable-metrics.js';

/** What the worker replays with: its bundle, its sinks, its codec (a fresh key: recorded payloads are plaintext). */
export function replayOptions(codePath: string = inject('workflowBundlePath')): ReplayWorkerOptions {
  return {
    workflowBundle: { codePath },
    sinks: durableMetricsSinks(undefined),
    dataConverter: dataConverterOf({ payloadCodec: new AesGcmPayloadCodec(parsePayloadKeys(newPayloadKeyEntry('replay-guard'))) }),
  };
}

/** Replays histories in one replay worker; the failures, each naming its fixture. */
export async function replayFailures(histories: Array<{ workflowId: string; history: unknown }>, options = replayOptions()): Promise<string[]> {
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories(options, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.name}: ${result.error.message}`);
  }
  return failures;
}
