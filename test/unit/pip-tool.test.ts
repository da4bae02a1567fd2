/**
 * The lookup order and the install lock of src/tools/pip-tool.ts. The real pip install is exercised by the Redis
 * tests from an empty .tools/valkey; here a stand-in `python3` on PATH records how often it is asked to install,
 * which is what the lock is about.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureTool, findTool, localToolPath, type PipTool } from '../../src/tools/pip-tool.js';

const PIP_TOOL_MODULE = fileURLToPath(new URL('../../src/tools/pip-tool.ts', import.meta.url));

const TOOL: PipTool = {
  label: 'the test tool',
  envVar: 'PIP_TOOL_TEST_BIN',
  pathNames: ['pip-tool-test-a', 'pip-tool-test-b'],
  requirement: 'pip-tool-test==1.0',
  dir: 'pip-tool-test',
  binary: 'bin/tool',
};

let root: string;
let bin: string;
let savedPath: string | undefined;

function script(path: string, body: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** A `python3` that behaves like `python3 -m pip install --target DIR REQ`: slowly, and counting its installs. */
function fakePip(log: string): void {
  script(
    join(bin, 'python3'),
    `echo "$*" >> ${log}
target=""; prev=""
for a in "$@"; do [ "$prev" = "--target" ] && target="$a"; prev="$a"; done
sleep 0.5
mkdir -p "$target/bin" && printf '#!/bin/sh\\necho installed\\n' > "$target/bin/tool" && chmod +x "$target/bin/tool"`,
  );
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'pip-tool-'));
  bin = join(root, 'bin');
  mkdirSync(bin);
  savedPath = process.env.PATH;
  process.env.PATH = `${bin}${delimiter}/usr/bin${delimiter}/bin`;
  delete process.env.PIP_TOOL_TEST_BIN;
});
afterEach(() => {
  process.env.PATH = savedPath;
  delete process.env.PIP_TOOL_TEST_BIN;
  rmSync(root, { recursive: true, force: true });
});

describe('findTool', () => {
  it('takes the environment variable first, then PATH names in order, then the copy under .tools/', () => {
    const local = script(localToolPath(TOOL, root), 'true');
    expect(findTool(TOOL, root)).toBe(local);
    const b = script(join(bin, 'pip-tool-test-b'), 'true');
    expect(findTool(TOOL, root)).toBe(b);
    const a = script(join(bin, 'pip-tool-test-a'), 'true');
    expect(findTool(TOOL, root)).toBe(a);
    const named = script(join(root, 'elsewhere', 'tool'), 'true');
    process.env.PIP_TOOL_TEST_BIN = named;
    expect(findTool(TOOL, root)).toBe(named);
  });

  it('reports a wrong explicit path instead of silently using another one', () => {
    script(join(bin, 'pip-tool-test-a'), 'true');
    process.env.PIP_TOOL_TEST_BIN = join(root, 'missing');
    expect(() => findTool(TOOL, root)).toThrow(/PIP_TOOL_TEST_BIN=.*missing is not an executable file/);
  });

  it('finds nothing when nothing is there', () => {
    expect(findTool(TOOL, root)).toBeUndefined();
  });
});

describe('ensureTool', () => {
  it('installs into .tools/<dir> when the tool is nowhere', () => {
    const log = join(root, 'pip.log');
    fakePip(log);
    expect(ensureTool(TOOL, root)).toBe(localToolPath(TOOL, root));
    expect(readFileSync(log, 'utf8')).toMatch(/-m pip install .*--target .*pip-tool-test\.installing-\d+ pip-tool-test==1\.0/);
    expect(existsSync(join(root, '.tools', 'pip-tool-test.lock'))).toBe(false);
  });

  it('says how to get the tool when there is no python3 to install it with', () => {
    process.env.PATH = bin; // no python3 here
    expect(() => ensureTool(TOOL, root)).toThrow(/no python3 to install it with \(pip install pip-tool-test==1\.0\)/);
  });

  it('installs once when several processes ask at the same time', async () => {
    const log = join(root, 'pip.log');
    fakePip(log);
    const child = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const code = `import { ensureTool } from ${JSON.stringify(PIP_TOOL_MODULE)};
          console.log(ensureTool(${JSON.stringify(TOOL)}, ${JSON.stringify(root)}));`;
        const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
          env: { ...process.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (out += d));
        const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
        p.on('exit', (c) => {
          clearTimeout(timer);
          resolve({ code: c, out });
        });
      });
    const results = await Promise.all([child(), child(), child()]);
    for (const r of results) {
      expect(r.code, r.out).toBe(0);
      expect(r.out.trim()).toBe(localToolPath(TOOL, root));
    }
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(1);
  }, 30_000);

  it('takes over a lock left by a process that died', () => {
    const log = join(root, 'pip.log');
    fakePip(log);
    mkdirSync(join(root, '.tools'), { recursive: true });
    writeFileSync(join(root, '.tools', 'pip-tool-test.lock'), '2147483646'); // no such pid
    expect(ensureTool(TOOL, root)).toBe(localToolPath(TOOL, root));
  });
});
