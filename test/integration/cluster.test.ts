/**
 * `server.processes: 2` as a user runs it (`src/main.ts` via tsx, a real node:cluster primary and two children)
 * in front of the fake provider, with the limits in a real Redis (valkey): both processes serve, a key's rpm
 * limit holds across them, /metrics is the sum of both, a child killed -9 is replaced without lost service,
 * SIGTERM drains an in-flight request and exits, and configs that cannot run as several processes are refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hashKey } from '../../src/auth/keys.js';
import { freePort } from '../../src/durable/dev-server.js';
import { startFakeProvider, type FakeProvider } from '../fake-provider/server.js';
import { parsePrometheus, valueOf } from '../support/prometheus-text.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { fakeUpstreamLines } from '../support/fake-upstream-lines.js';

const KEY = 'gw-cluster-test-key-0123456789abcdef0123';
const LIMITED_KEY = 'gw-cluster-limited-key-0123456789abcdef01';
const RPM = 6;

let dir: string;
let redis: RedisServer;
let fake: FakeProvider;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gateway-cluster-'));
  redis = await startRedis();
  fake = await startFakeProvider();
});
afterAll(async () => {
  await fake?.close();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Ports {
  port: number;
  operator: number;
}

function configYaml({ port, operator }: Ports, opts: { store?: 'redis' | 'memory'; extra?: string[]; durable?: boolean } = {}): string {
  const store = opts.store === 'memory' ? '{ kind: memory }' : `{ kind: redis, url: "${redis.url}", prefix: "cluster-${port}:" }`;
  return [
    `server: { host: 127.0.0.1, port: ${port}, processes: 2, operator: { port: ${operator} } }`,
    'logging: { level: info }',
    opts.durable ? 'durable: { enabled: true, payloadEncryption: optional }' : 'durable: { enabled: false }',
    'auth:',
    `  store: ${store}`,
    '  keys:',
    `    - { id: open, tenant: t, hash: "${hashKey(KEY)}" }`,
    `    - { id: limited, tenant: t, hash: "${hashKey(LIMITED_KEY)}", limits: { requestsPerMinute: ${RPM} } }`,
    ...(opts.extra ?? []),
    ...fakeUpstreamLines(fake.url),
  ].join('\n');
}

/** `node --import tsx src/main.ts`: this process is the cluster primary (no tsx launcher in between). */
class Cluster {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private constructor(readonly child: ChildProcess) {
    for (const s of [child.stdout!, child.stderr!]) s.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-200_000)));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static start(name: string, yaml: string, args: string[] = [], env: Record<string, string> = {}): Cluster {
    const configPath = path.join(dir, `${name}.yaml`);
    writeFileSync(configPath, yaml);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', configPath, '--data-dir', path.join(dir, `${name}-data`), ...args], {
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'GATEWAY_PROCESSES' && k !== 'GATEWAY_ROLE')), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Cluster(child);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Child pids announced ready by the primary, in order (restarts included). */
  readyPids(): number[] {
    const pids: number[] = [];
    for (const line of this.output.split('\n')) {
      if (!line.includes('gateway process ready')) continue;
      const pid = (JSON.parse(line) as { pid?: number }).pid;
      if (pid) pids.push(pid);
    }
    return pids;
  }

  async until(cond: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${this.output.slice(-4000)}`);
      if (!this.running) throw new Error(`the primary exited before ${what}:\n${this.output.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
    for (const pid of this.readyPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

interface Answer {
  status: number;
  body: string;
}

/** One request on a connection of its own (no keep-alive), so the primary hands each one to the next process. */
function call(port: number, pathname: string, { key, body, headers = {} }: { key?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: pathname,
        method: payload ? 'POST' : 'GET',
        agent: false,
        headers: { ...(payload && { 'content-type': 'application/json' }), ...(key && { authorization: `Bearer ${key}` }), connection: 'close', ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error(`${pathname} timed out`)));
    req.end(payload);
  });
}

const chat = (port: number, key = KEY, content = 'hi') => call(port, '/v1/chat/completions', { key, body: { model: 'chat', messages: [{ role: 'user', content }] } });

/** The role each child logged when it started serving ("gateway listening"). */
const listeningRoles = (c: Cluster) =>
  c.output
    .split('\n')
    .filter((l) => l.includes('"gateway listening"'))
    .map((l) => (JSON.parse(l) as { role: string }).role);

async function metrics(ports: Ports) {
  const res = await call(ports.operator, '/metrics');
  expect(res.status).toBe(200);
  return parsePrometheus(res.body);
}

const connectionPids = (samples: ReturnType<typeof parsePrometheus>) =>
  samples.filter((s) => s.name === 'llm_gateway_process_connections_total' && s.value > 0).map((s) => Number(s.labels.pid));

describe('server.processes: 2 (node:cluster) with the limits in Redis', () => {
  let ports: Ports;
  let cluster: Cluster;

  beforeAll(async () => {
    ports = { port: await freePort(), operator: await freePort() };
    cluster = Cluster.start('two', configYaml(ports));
    await cluster.until(() => cluster.readyPids().length >= 2, 'two ready processes', 90_000);
  }, 120_000);
  afterAll(() => cluster?.kill());

  it('serves requests from two processes, and /metrics sums both processes’ counters', async () => {
    const before = valueOf(await metrics(ports), 'llm_gateway_requests_total');
    const sent = 10;
    for (let i = 0; i < sent; i++) expect((await chat(ports.port)).status).toBe(200);
    const samples = await metrics(ports);
    const pids = connectionPids(samples);
    // both children accepted connections: the series of each process are in one scrape
    expect(new Set(pids)).toEqual(new Set(cluster.readyPids()));
    expect(pids).toHaveLength(2);
    expect(pids).not.toContain(cluster.child.pid); // the primary serves nothing itself
    // the scrape lands on one process, yet counts the requests of both
    expect(valueOf(samples, 'llm_gateway_requests_total') - before).toBe(sent);
  }, 60_000);

  it('holds an rpm limit across both processes: N + k requests get exactly k 429s', async () => {
    const k = 4;
    const statuses: number[] = [];
    for (let i = 0; i < RPM + k; i++) statuses.push((await chat(ports.port, LIMITED_KEY)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(RPM);
    expect(statuses.filter((s) => s === 429)).toHaveLength(k);
    // the requests went to both processes (alternating connections), so the limit was not one process's count
    const spread = connectionPids(await metrics(ports));
    expect(spread).toHaveLength(2);
  }, 60_000);

  it('replaces a child killed -9 and keeps serving meanwhile', async () => {
    const [victim, survivor] = cluster.readyPids().slice(-2);
    process.kill(victim!, 'SIGKILL');
    // A connection the primary hands over in the instant before it sees the exit is lost with the process
    // (node:cluster round-robin keeps its socket, the client waits for its own timeout); from the exit on, the
    // dead process gets no connection: every request is answered, during the restart back-off too.
    await cluster.until(() => cluster.output.includes('gateway process exited: starting it again'), 'the primary to see the exit', 10_000);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await chat(ports.port)).status);
    expect(statuses).toEqual(Array(10).fill(200));
    await cluster.until(() => cluster.readyPids().length >= 3, 'a replacement process');
    const replacement = cluster.readyPids().at(-1)!;
    expect([victim, survivor]).not.toContain(replacement);
    // the replacement serves: its pid accepts connections
    await cluster.until(async () => {
      await chat(ports.port);
      return connectionPids(await metrics(ports)).includes(replacement);
    }, 'the replacement to accept a connection');
    expect(() => process.kill(victim!, 0)).toThrow();
    expect(cluster.running).toBe(true);
  }, 90_000);

  it('drains on SIGTERM: an in-flight request is answered, then every process exits', async () => {
    const children = cluster.readyPids();
    fake.script({ kind: 'delay', ms: 1500 });
    const inFlight = chat(ports.port, KEY, 'slow');
    await new Promise((r) => setTimeout(r, 400));
    cluster.child.kill('SIGTERM');
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(await cluster.exited).toEqual({ code: 0, signal: null });
    expect(cluster.output).toMatch(/shutting down the gateway processes/);
    for (const pid of children) expect(() => process.kill(pid, 0)).toThrow();
    await expect(chat(ports.port)).rejects.toThrow(/ECONNREFUSED/);
  }, 60_000);
});

describe('the primary killed -9', () => {
  it('takes its children with it: none keeps the port', async () => {
    const ports = { port: await freePort(), operator: await freePort() };
    const cluster = Cluster.start('orphans', configYaml(ports));
    try {
      await cluster.until(() => cluster.readyPids().length >= 2, 'two ready processes', 90_000);
      const children = cluster.readyPids();
      expect((await chat(ports.port)).status).toBe(200);
      cluster.child.kill('SIGKILL');
      await cluster.exited;
      // each child watches the process that started it and drains when it is gone
      const end = Date.now() + 20_000;
      const alive = () => children.filter((pid) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      });
      while (alive().length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      expect(alive()).toEqual([]);
      await expect(chat(ports.port)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      cluster.kill();
    }
  }, 120_000);
});

describe('server.processes: 2 with role all and the durable path on', () => {
  let ports: Ports;
  let cluster: Cluster;

  beforeAll(async () => {
    ports = { port: await freePort(), operator: await freePort() };
    cluster = Cluster.start('durable', configYaml(ports, { durable: true }), [], {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      GATEWAY_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    });
    await cluster.until(() => cluster.readyPids().length >= 2, 'two ready processes', 90_000);
  }, 120_000);
  afterAll(() => cluster?.kill());

  it('runs the Temporal worker in the first process only, and both processes start durable requests', async () => {
    // slot 0 keeps role all (its worker polls the task queue); slot 1 serves HTTP as role gateway
    expect(listeningRoles(cluster).sort()).toEqual(['all', 'gateway']);
    const answers: Answer[] = [];
    for (let i = 0; i < 6; i++) {
      answers.push(
        await call(ports.port, '/v1/chat/completions', { key: KEY, body: { model: 'chat', messages: [{ role: 'user', content: `durable ${i}` }] }, headers: { 'x-gateway-durable': 'true' } }),
      );
    }
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
    answers.forEach((a, i) => expect(JSON.parse(a.body).choices[0].message.content).toBe(`Echo: durable ${i}`));
    expect(connectionPids(await metrics(ports))).toHaveLength(2);
    // the worker (slot 0) counts completions; a scrape on either process sees them
    const completed = async () => valueOf(await metrics(ports), 'llm_gateway_durable_requests_completed_total');
    await cluster.until(async () => (await completed()) >= 6, 'six completed durable requests in /metrics', 15_000);
    expect(await completed()).toBe(6);
  }, 90_000);
});

describe('configs that cannot run as several processes are refused before any child starts', () => {
  const refused = async (name: string, yaml: string, args: string[] = []) => {
    const c = Cluster.start(name, yaml, args);
    const exit = await c.exited;
    expect(c.readyPids()).toEqual([]);
    return { ...exit, output: c.output };
  };
  const ports = () => ({ port: 1, operator: 2 }); // never bound: the check comes first

  it('refuses the memory limit store (every key would get N× its limits)', async () => {
    const r = await refused('memory', configYaml(ports(), { store: 'memory' }));
    expect(r.code).toBe(2);
    expect(r.output).toContain('Cannot run 2 gateway processes');
    expect(r.output).toContain('auth.store.kind memory keeps rate limits and budgets per process');
    expect(r.output).toContain('set auth.store.kind: redis');
  }, 30_000);

  it('refuses the embedded cache (one process per directory)', async () => {
    const r = await refused('embedded', configYaml(ports(), { extra: ['cache: { enabled: true, store: { kind: embedded, dir: cache } }'] }));
    expect(r.code).toBe(2);
    expect(r.output).toContain('cache.store.kind embedded belongs to one process per directory');
  }, 30_000);

  it('refuses role worker (run more worker processes instead)', async () => {
    const r = await refused('worker', configYaml(ports()), ['--role', 'worker']);
    expect(r.code).toBe(2);
    expect(r.output).toContain('server.processes applies to the HTTP roles');
  }, 30_000);

  it('refuses a bad --processes value', async () => {
    const r = await refused('bad-count', configYaml(ports()), ['--processes', '0']);
    expect(r.code).toBe(2);
    expect(r.output).toContain('--processes must be a whole number from 1 to 64, or auto');
  }, 30_000);
});
