/**
 * The logger's own redaction (src/observability/log-redact.ts) against pino's `redact` with the wildcard paths it
 * replaced: the same lines for thousands of generated objects (secret fields at every depth, in arrays, under
 * errors, holding undefined), for child bindings and errors; and the caller's object is never changed.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACT_PATHS } from '../../src/observability/logger.js';
import { redactLogLine } from '../../src/security/secrets.js';

function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      // the two loggers log from different lines: stacks differ only in their line numbers
      lines.push(String(chunk).replace(/"time":\d+,/, '').replace(/"stack":"(?:[^"\\]|\\.)*"/g, '"stack":"-"'));
      cb();
    },
  });
  return { lines, stream };
}

const KEYS = ['apiKey', 'authorization', 'Authorization', 'x-api-key', 'X-Api-Key', 'proxy-authorization', 'a', 'b', 'headers', 'list', 'n'];

function generator(seed: number) {
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const gen = (d: number): unknown => {
    const r = rnd();
    if (d > 6 || r < 0.25) return [1, 'x', true, null, undefined, 3.5][Math.floor(rnd() * 6)];
    if (r < 0.4) return Array.from({ length: Math.floor(rnd() * 3) }, () => gen(d + 1));
    if (r < 0.45) return Object.assign(new Error('boom'), { config: gen(d + 1) });
    const o: Record<string, unknown> = {};
    for (let i = 0; i < rnd() * 4; i++) o[KEYS[Math.floor(rnd() * KEYS.length)]!] = gen(d + 1);
    return o;
  };
  return { rnd, gen };
}

describe('log redaction', () => {
  const old = sink();
  const now = sink();
  const oldLogger = pino({ level: 'info', base: { service: 'llm-gateway' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, hooks: { streamWrite: redactLogLine } }, old.stream);
  const logger = createLogger('info', now.stream);

  it('writes what pino redaction with the wildcard paths wrote, without changing the object logged', () => {
    // Two generators with one seed: pino's redaction changes some objects it logs, so each logger gets its own.
    const mine = generator(7);
    const theirs = generator(7);
    const next = ({ rnd, gen }: ReturnType<typeof generator>) => {
      const g = gen(0);
      const fields = (typeof g === 'object' && g !== null && !Array.isArray(g) ? g : { v: g }) as Record<string, unknown>;
      if (rnd() < 0.2) fields.err = gen(1);
      return fields;
    };
    let secrets = 0;
    for (let i = 0; i < 3000; i++) {
      const fields = next(mine);
      const before = JSON.stringify(fields);
      logger.info(fields, 'm');
      expect(JSON.stringify(fields)).toBe(before);
      oldLogger.info(next(theirs), 'm');
      if (old.lines.at(-1)!.includes('[redacted]')) secrets++;
    }
    expect(secrets).toBeGreaterThan(300);
    expect(now.lines).toEqual(old.lines);
  });

  it('censors child bindings and serialized errors as before', () => {
    old.lines.length = now.lines.length = 0;
    oldLogger.child({ headers: { authorization: 'Bearer zzz' }, id: 1 }).child({ apiKey: 'k' }).info({ x: { apiKey: 'k' } }, 'child');
    logger.child({ headers: { authorization: 'Bearer zzz' }, id: 1 }).child({ apiKey: 'k' }).info({ x: { apiKey: 'k' } }, 'child');
    const err = Object.assign(new Error('top'), { options: { headers: { authorization: 'x', 'x-api-key': 'y' } } });
    for (const l of [oldLogger, logger]) {
      l.error(err);
      l.error({ err, apiKey: 'z' }, 'failed');
    }
    expect(now.lines.join('')).not.toMatch(/zzz|:"[xykz]"/);
    expect(now.lines).toEqual(old.lines);
  });
});
