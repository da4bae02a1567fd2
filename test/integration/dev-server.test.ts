/**
 * The embedded dev server as real processes: it is restarted on the same port and db file when it dies, it
 * never outlives an owner killed with SIGKILL, and a start stops what a crashed run left on its db file.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { Client, Connection } from '@temporalio/client';
import { devServerArgs, freePort, startDevServer, type DevServer, type DevServerState } from '../../src/durable/dev-server.js';
import { isRunning, refOf, type ProcessRef } from '../../src/durable/own-processes.js';
import { RunFile, readRecord } from '../../src/durable/run-file.js';
import { ensureTemporalCli } from '../../src/durable/temporal-cli.js';
import { until } from '../support/gateway-processes.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = ensureTemporalCli();
const started: DevServer[] = [];
const spawned: ProcessRef[] = [];

afterEach(async () => {
  for (const d of started.splice(0)) await d.stop().catch(() => undefined);
  for (const ref of spawned.splice(0)) if (isRunning(ref)) process.kill(ref.pid, 'SIGKILL');
});

const tempDir = () => mkdtempSync(join(tmpdir(), 'gateway-dev-server-'));

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

describe('embedded Temporal dev server', () => {
  it('is restarted on the same port and db file after it dies, keeping its workflows and retention', async () => {
    const dir = tempDir();
    const logged: string[] = [];
    const log = { info: (_o: object, m: string) => logged.push(m), warn: (_o: object, m: string) => logged.push(m), error: (_o: object, m: string) => logged.push(m) };
    const dev = await startDevServer({ cli, port: await freePort(), uiPort: false, namespace: 'default', dbFile: join(dir, 'temporal.db'), retentionHours: 6, runFile: join(dir, 'gateway.run.json'), log });
    started.push(dev);
    const states: DevServerState[] = [];
    dev.onState((s) => states.push(s));
    expect(dev.state).toBe('running');

    // A workflow nobody works on stays open: after the restart it must still be there (same db file).
    let connection = await Connection.connect({ address: dev.address });
    await new Client({ connection }).workflow.start('requestWorkflow', { taskQueue: 'nobody-polls', workflowId: 'survives-restart', args: [] });
    await connection.close();

    const firstPid = dev.pid!;
    process.kill(firstPid, 'SIGKILL');
    await until(() => dev.state === 'restarting', 5_000, 'the death to be noticed');
    const t0 = Date.now();
    await until(() => dev.state === 'running', 20_000, 'the dev server to be back');
    const backMs = Date.now() - t0;
    expect(states).toEqual(['restarting', 'running']);
    expect(dev.restarts).toBe(1);
    expect(dev.pid).not.toBe(firstPid);
    expect(logged).toContain('the embedded Temporal dev server exited: restarting it');
    expect(readRecord(join(dir, 'gateway.run.json'))?.devServer?.server?.pid).toBe(dev.pid);

    connection = await Connection.connect({ address: dev.address });
    try {
      const client = new Client({ connection });
      expect((await client.workflow.getHandle('survives-restart').describe()).status.name).toBe('RUNNING');
      const ns = await connection.workflowService.describeNamespace({ namespace: 'default' });
      expect(Number(ns.config!.workflowExecutionRetentionTtl!.seconds)).toBe(6 * 3600);
    } finally {
      await connection.close();
    }
    console.log(`dev server back ${backMs} ms after its death was noticed`);

    await dev.stop();
    expect(dev.state).toBe('stopped');
    expect(readRecord(join(dir, 'gateway.run.json'))).toBeUndefined();
  }, 60_000);

  it('never outlives an owner killed with SIGKILL', async () => {
    const dir = tempDir();
    const port = await freePort();
    const script = join(dir, 'owner.mts');
    writeFileSync(
      script,
      `import { startDevServer } from ${JSON.stringify(join(repo, 'src/durable/dev-server.ts'))};
const dev = await startDevServer({ cli: ${JSON.stringify(cli)}, port: ${port}, uiPort: false, namespace: 'default', dbFile: ${JSON.stringify(join(dir, 'temporal.db'))} });
console.log(JSON.stringify({ pid: dev.pid }));
setInterval(() => {}, 1000);
`,
    );
    const owner = spawn(process.execPath, ['--import', 'tsx', script], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
    spawned.push(refOf(owner.pid!)!);
    const serverPid = await new Promise<number>((resolve, reject) => {
      let out = '';
      owner.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /\{"pid":(\d+)\}/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      owner.once('exit', (code) => reject(new Error(`owner exited (${code}): ${out}`)));
    });
    const server = refOf(serverPid)!;
    spawned.push(server);
    expect(isRunning(server)).toBe(true);
    expect(await portIsFree(port)).toBe(false);

    owner.kill('SIGKILL');
    await until(() => !isRunning(server), 15_000, 'the orphaned dev server to stop');
    await until(() => portIsFree(port), 5_000, `port ${port} to be free`);
  }, 60_000);

  it('a start stops a dev server a crashed run left on its db file, instead of failing on the port', async () => {
    const dir = tempDir();
    const opts = { cli, port: await freePort(), uiPort: false as const, namespace: 'default', dbFile: join(dir, 'temporal.db') };
    // A leftover without any watchdog (as if both the owner and its watchdog had been SIGKILLed).
    const leftover = spawn(cli, devServerArgs(opts), { stdio: 'ignore', detached: true });
    const ref = refOf(leftover.pid!)!;
    spawned.push(ref);
    await until(() => portIsFree(opts.port).then((free) => !free), 20_000, 'the leftover to listen');

    const dev = await startDevServer({ ...opts, runFile: join(dir, 'gateway.run.json') });
    started.push(dev);
    expect(isRunning(ref)).toBe(false);
    expect(dev.state).toBe('running');
  }, 60_000);
});

describe('run file', () => {
  it('refuses a second owner while the first one and its launchers run; stops an owner whose launcher is gone', async () => {
    const dir = tempDir();
    const path = join(dir, 'gateway.run.json');
    const sleeper = () => {
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      const ref = refOf(child.pid!)!;
      spawned.push(ref);
      return { child, ref, argv: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] };
    };
    const owner = sleeper();
    const launcher = sleeper();
    await until(() => refOf(owner.ref.pid) !== undefined && refOf(launcher.ref.pid) !== undefined, 5_000, 'sleepers');
    const write = () => writeFileSync(path, JSON.stringify({ owner: { ...owner.ref, argv: owner.argv, launchers: [launcher.ref] } }));

    write();
    await expect(RunFile.claim(path)).rejects.toThrow(`another gateway (pid ${owner.ref.pid})`);
    expect(isRunning(owner.ref)).toBe(true);

    launcher.child.kill('SIGKILL');
    await until(() => !isRunning(launcher.ref), 5_000, 'the launcher to die');
    const warned: string[] = [];
    const claimed = await RunFile.claim(path, { log: { warn: (_o, m) => warned.push(m) } });
    expect(isRunning(owner.ref)).toBe(false);
    expect(warned).toEqual(['a gateway left over by a crashed start (its launcher is gone) is stopped']);
    expect(readRecord(path)?.owner.pid).toBe(process.pid);
    claimed.release();
    expect(readRecord(path)).toBeUndefined();
  }, 30_000);

  it('never signals a recorded pid whose start time or command line differs (a reused pid)', async () => {
    const dir = tempDir();
    const path = join(dir, 'gateway.run.json');
    const bystander = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const ref = refOf(bystander.pid!)!;
    spawned.push(ref);
    await until(() => refOf(ref.pid) !== undefined, 5_000, 'bystander');
    writeFileSync(
      path,
      JSON.stringify({
        owner: { pid: ref.pid, startTime: ref.startTime - 1, argv: [process.execPath, '-e', 'setInterval(() => {}, 1000)'], launchers: [] },
        devServer: { address: 'x', server: { pid: ref.pid, startTime: ref.startTime, argv: ['temporal', 'server', 'start-dev'] } },
      }),
    );
    const claimed = await RunFile.claim(path);
    expect(isRunning(ref)).toBe(true);
    claimed.release();
  }, 30_000);
});

describe('role all with its embedded dev server', () => {
  it('reports the dev server not ready while it is down, and serves durable requests again once it is back', async () => {
    const dir = tempDir();
    const path = join(dir, 'gateway.yaml');
    writeFileSync(
      path,
      `
logging: { level: silent }
auth: { mode: none }
durable: { temporal: { taskQueue: embedded-restart }, devServer: { port: ${await freePort()}, uiPort: ${await freePort()} } }
providers: { m: { type: mock } }
deployments: { d: { provider: m, model: x } }
models: { chat: { groups: [{ deployments: [d] }] } }
`,
    );
    const gateway = await startGateway(loadConfig(path, {}), {
      port: 0,
      logger: createLogger('silent'),
      worker: { workflowBundle: { codePath: inject('workflowBundlePath') } },
    });
    try {
      const readyz = async () => {
        const res = await fetch(`${gateway.url}/readyz`);
        return { status: res.status, body: (await res.json()) as { checks: Record<string, { ok: boolean; error?: string }> } };
      };
      await until(async () => (await readyz()).status === 200, 15_000, 'ready');
      process.kill(gateway.devServer!.pid!, 'SIGKILL');
      await until(async () => {
        const r = await readyz();
        return r.status === 503 && r.body.checks.temporalDevServer?.ok === false;
      }, 10_000, '/readyz to report the dead dev server');
      const t0 = Date.now();
      await until(async () => (await readyz()).status === 200, 30_000, 'ready again');
      console.log(`role all ready again ${Date.now() - t0} ms after /readyz saw the dev server down`);
      expect(gateway.devServer!.restarts).toBe(1);

      const res = await fetch(`${gateway.url}/v1/requests`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'after the restart' }] }),
      });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      const done = (await (await fetch(`${gateway.url}/v1/requests/${id}?wait=20s`)).json()) as { status: string };
      expect(done.status).toBe('succeeded');
    } finally {
      await gateway.close();
    }
    expect(gateway.devServer!.state).toBe('stopped');
  }, 90_000);
});
