/** The batch command line: argument handling, the progress line, the local model check's reading of a file. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { modelsOf, parseCli, progressLine, UsageError } from '../../src/batches/cli.js';

describe('parseCli', () => {
  it('reads submit with its flags, and the connection from the environment', () => {
    const opts = parseCli(['submit', 'in.jsonl', '--watch', '--model-check', '--metadata', 'job=nightly', '--metadata', 'k=a=b'], {
      GATEWAY_BASE_URL: 'http://gw:9000/v1/',
      GATEWAY_API_KEY: 'gw-key',
    });
    expect(opts).toEqual({
      baseURL: 'http://gw:9000/v1',
      apiKey: 'gw-key',
      intervalMs: 1000,
      command: { name: 'submit', file: 'in.jsonl', watch: true, modelCheck: true, metadata: { job: 'nightly', k: 'a=b' } },
    });
  });

  it('prefers flags to the environment, and the gateway variables to the OpenAI ones', () => {
    const env = { OPENAI_BASE_URL: 'http://openai/v1', OPENAI_API_KEY: 'sk-openai', GATEWAY_API_KEY: 'gw' };
    expect(parseCli(['status', 'batch_1'], env)).toMatchObject({ baseURL: 'http://openai/v1', apiKey: 'gw' });
    expect(parseCli(['status', 'batch_1', '--base-url', 'http://flag/v1', '--api-key', 'k', '--interval', '250'], env)).toMatchObject({
      baseURL: 'http://flag/v1',
      apiKey: 'k',
      intervalMs: 250,
      command: { name: 'status', id: 'batch_1', watch: false, json: false },
    });
    expect(parseCli(['cancel', 'batch_2'], {})).toMatchObject({ baseURL: 'http://127.0.0.1:8080/v1', apiKey: 'unused', command: { name: 'cancel', id: 'batch_2' } });
  });

  it('reads results, list and help', () => {
    expect(parseCli(['results', 'batch_3', '--out', 'o.jsonl', '--errors', 'e.jsonl']).command).toEqual({ name: 'results', id: 'batch_3', out: 'o.jsonl', errors: 'e.jsonl' });
    expect(parseCli(['results', 'batch_3']).command).toEqual({ name: 'results', id: 'batch_3', out: undefined, errors: undefined });
    expect(parseCli(['list', '--limit', '5']).command).toEqual({ name: 'list', limit: 5 });
    expect(parseCli([]).command).toEqual({ name: 'help' });
    expect(parseCli(['submit', 'x', '-h']).command).toEqual({ name: 'help' });
  });

  it.each([
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['submit'], /'submit' needs a FILE/],
    [['status'], /'status' needs a batch ID/],
    [['cancel', 'a', 'b'], /'cancel' needs a batch ID/],
    [['list', 'extra'], /'list' takes no arguments/],
    [['results', 'b', '--watch'], /--watch does not apply to 'results'/],
    [['submit', 'f', '--out', 'x'], /--out does not apply to 'submit'/],
    [['submit', 'f', '--metadata', 'novalue'], /key=value/],
    [['list', '--limit', '0'], /--limit must be a positive integer/],
    [['status', 'b', '--interval', 'soon'], /--interval must be a positive integer/],
    [['status', 'b', '--bogus'], /Unknown option '--bogus'/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCli(argv)).toThrow(UsageError);
    expect(() => parseCli(argv)).toThrow(message);
  });

  it('the script prints the usage and exits 2 on a usage error', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/batch.ts', 'submit'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("'submit' needs a FILE");
    expect(run.stderr).toContain('Usage: npm run batch');
  });
});

describe('progressLine', () => {
  it('shows done lines over the total, failures and the status', () => {
    expect(progressLine({ status: 'in_progress', request_counts: { total: 200, completed: 90, failed: 10 } }, 10)).toBe(
      '[#####-----]  50%  100/200 done · 10 failed · in_progress',
    );
    expect(progressLine({ status: 'validating', request_counts: { total: 0, completed: 0, failed: 0 } }, 4)).toBe('[----]   0%  0/0 done · 0 failed · validating');
    expect(progressLine({ status: 'failed', request_counts: { total: 0, completed: 0, failed: 0 } }, 4)).toBe('[####] 100%  0/0 done · 0 failed · failed');
  });
});

describe('modelsOf', () => {
  it('names each model with its line numbers, skipping blank and unreadable lines', () => {
    const text = ['{"body":{"model":"a"}}', '', '{"body":{"model":"b"}}', 'not json', '{"body":{"model":"a"}}'].join('\n');
    expect([...modelsOf(text)]).toEqual([
      ['a', [1, 5]],
      ['b', [3]],
    ]);
  });
});
