/**
 * Gateway roles as real child processes (`src/main.ts --role ...`), for the tests that kill them: in-process
 * workers cannot be killed -9. Every process points at the test run's dev server and prebuilt bundle.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { inject } from 'vitest';

export class GatewayProcesses {
  private readonly children = new Set<ChildProcess>();

  /** `env`: overrides for the children, e.g. TEMPORAL_ADDRESS of a test's own dev server. */
  constructor(
    private readonly configPath: () => string,
    private readonly env: () => Record<string, string> = () => ({}),
  ) {}

  /** Everything a child wrote so far (stdout and stderr), for assertions and failure messages. */
  readonly output = new Map<ChildProcess, string>();

  /** Starts a role and resolves once its start-up log line appears. */
  async start(role: 'worker' | 'gateway'): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--role', role, '--config', this.configPath()], {
      env: { ...process.env, GATEWAY_WORKFLOW_BUNDLE: inject('workflowBundlePath'), TEMPORAL_ADDRESS: inject('temporalAddress'), ...this.env() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    const ready = role === 'worker' ? 'worker running' : 'gateway listening';
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${role} did not start:\n${output}`)), 60_000);
      const onData = (d: Buffer) => {
        output = (output + d.toString()).slice(-20_000);
        this.output.set(child, output);
        if (output.includes(ready)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`${role} exited (${code}) before it was ready:\n${output}`)));
    });
    return child;
  }

  async stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await gone;
  }

  async killAll(): Promise<void> {
    for (const c of this.children) await this.stop(c, 'SIGKILL');
  }
}

export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
