/** The in-process limit store on a fake clock: the shared contract, plus that expired state is swept. */
import { expect, it } from 'vitest';
import { createLimitStore } from '../../src/limits/index.js';
import { MemoryLimitStore } from '../../src/limits/memory-store.js';
import { limitStoreContract } from '../support/limit-store-contract.js';

let now = 1_764_000_000_000;
const clock = () => now;

limitStoreContract('memory', {
  create: async () => new MemoryLimitStore({ now: clock }),
  elapse: async (ms) => {
    now += ms;
  },
  exact: true,
  shared: false,
});

it('sweeps expired windows, leases and spend buckets, so memory stays bounded', async () => {
  const s = new MemoryLimitStore({ now: clock });
  for (let i = 0; i < 100; i++) {
    await s.take(`rpm:${i}`, 1, 10, 1000);
    await s.acquire(`conc:${i}`, 1, 1000);
    await s.addSpend(`spend:${i}`, 0.01, 1000);
  }
  const lease = await s.acquire('conc:held', 1, 5000);
  expect(s.size()).toBe(301);
  s.sweep();
  expect(s.size()).toBe(301); // nothing has expired yet
  now += 1000;
  s.sweep();
  expect(s.size()).toBe(1); // only the lease that is still held
  await s.release('conc:held', lease.lease!);
  s.sweep();
  expect(s.size()).toBe(0);
  await s.close();
});

it('is what createLimitStore makes for kind: memory', async () => {
  const s = await createLimitStore({ kind: 'memory' });
  expect(s).toBeInstanceOf(MemoryLimitStore);
  await s.close();
});
