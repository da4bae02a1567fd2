/**
 * The `npm run batch` command line: submit a JSONL file as a batch and watch it, read its status, fetch its
 * results, cancel it. It talks to the gateway over HTTP with the official `openai` SDK, so it works against
 * any OpenAI-compatible Batch API. Arguments are parsed here (node:util parseArgs) and the commands take their
 * client and output streams as parameters, so tests run them in-process.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import type { Batch } from 'openai/resources/batches';

export const USAGE = `Usage: npm run batch -- <command> [options]

Commands:
  submit FILE [--model-check] [--watch] [--metadata key=value ...]
                     upload a JSONL file and start a batch; --watch shows its progress until it ends,
                     --model-check first checks that the key may use every model the file names
  status ID [--watch] [--json]
                     the batch's status and counts (--json: the whole batch object)
  results ID [--out FILE] [--errors FILE]
                     the output file (to FILE, or standard output); --errors also saves the error file
  cancel ID          cancel a running batch (its answered lines stay in the output)
  list [--limit N]   the most recent batches

Options:
  --base-url URL     the gateway's OpenAI base URL (env GATEWAY_BASE_URL or OPENAI_BASE_URL; default
                     http://127.0.0.1:8080/v1)
  --api-key KEY      the gateway key (env GATEWAY_API_KEY or OPENAI_API_KEY; prefer the environment: a flag
                     shows in the process list)
  --interval MS      how often --watch polls (default 1000)
  -h, --help         this text`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Command =
  | { name: 'submit'; file: string; modelCheck: boolean; watch: boolean; metadata: Record<string, string> }
  | { name: 'status'; id: string; watch: boolean; json: boolean }
  | { name: 'results'; id: string; out?: string; errors?: string }
  | { name: 'cancel'; id: string }
  | { name: 'list'; limit: number }
  | { name: 'help' };

export interface CliOptions {
  baseURL: string;
  apiKey: string;
  intervalMs: number;
  command: Command;
}

const OPTIONS = {
  'base-url': { type: 'string' },
  'api-key': { type: 'string' },
  interval: { type: 'string' },
  'model-check': { type: 'boolean' },
  watch: { type: 'boolean' },
  json: { type: 'boolean' },
  metadata: { type: 'string', multiple: true },
  out: { type: 'string' },
  errors: { type: 'string' },
  limit: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Which command-specific flags each command takes (the connection flags go with every command). */
const FLAGS_OF: Record<string, string[]> = {
  submit: ['model-check', 'watch', 'metadata'],
  status: ['watch', 'json'],
  results: ['out', 'errors'],
  cancel: [],
  list: ['limit'],
};
const COMMON = new Set(['base-url', 'api-key', 'interval', 'help']);

function positiveInt(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, not '${raw}'`);
  return n;
}

export function parseCli(argv: string[], env: NodeJS.ProcessEnv = {}): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const connection = {
    baseURL: (values['base-url'] ?? env.GATEWAY_BASE_URL ?? env.OPENAI_BASE_URL ?? 'http://127.0.0.1:8080/v1').replace(/\/+$/, ''),
    apiKey: values['api-key'] ?? env.GATEWAY_API_KEY ?? env.OPENAI_API_KEY ?? 'unused',
    intervalMs: positiveInt(values.interval, 'interval', 1000),
  };
  const [name, ...rest] = positionals;
  if (values.help || name === undefined || name === 'help') return { ...connection, command: { name: 'help' } };
  const allowed = FLAGS_OF[name];
  if (!allowed) throw new UsageError(`unknown command '${name}' (submit, status, results, cancel, list)`);
  for (const flag of Object.keys(values)) {
    if (!COMMON.has(flag) && !allowed.includes(flag)) throw new UsageError(`--${flag} does not apply to '${name}'`);
  }
  const expectArgs = name === 'list' ? 0 : 1;
  if (rest.length !== expectArgs) {
    throw new UsageError(expectArgs === 0 ? `'list' takes no arguments` : `'${name}' needs ${name === 'submit' ? 'a FILE' : 'a batch ID'}`);
  }
  const arg = rest[0]!;
  switch (name) {
    case 'submit': {
      const metadata: Record<string, string> = {};
      for (const pair of values.metadata ?? []) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw new UsageError(`--metadata takes key=value, not '${pair}'`);
        metadata[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      return { ...connection, command: { name, file: arg, modelCheck: !!values['model-check'], watch: !!values.watch, metadata } };
    }
    case 'status':
      return { ...connection, command: { name, id: arg, watch: !!values.watch, json: !!values.json } };
    case 'results':
      return { ...connection, command: { name, id: arg, out: values.out, errors: values.errors } };
    case 'cancel':
      return { ...connection, command: { name, id: arg } };
    default:
      return { ...connection, command: { name: 'list', limit: positiveInt(values.limit, 'limit', 20) } };
  }
}

const TERMINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);

/** `[##########----------]  50%  500/1000 done · 2 failed · in_progress` */
export function progressLine(batch: Pick<Batch, 'status' | 'request_counts'>, width = 24): string {
  const c = batch.request_counts ?? { total: 0, completed: 0, failed: 0 };
  const done = c.completed + c.failed;
  const ratio = c.total > 0 ? Math.min(1, done / c.total) : TERMINAL.has(batch.status) ? 1 : 0;
  const filled = Math.round(ratio * width);
  const pct = `${Math.floor(ratio * 100)}%`.padStart(4);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct}  ${done}/${c.total} done · ${c.failed} failed · ${batch.status}`;
}

export interface CliIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Redraw the progress line in place (a terminal) or print it when it changes (a log). */
  isTTY: boolean;
  sleep?: (ms: number) => Promise<void>;
}

function summary(b: Batch): string {
  const lines = [`${b.id}  ${b.status}  ${progressLine(b)}`];
  if (b.output_file_id) lines.push(`  output file: ${b.output_file_id}`);
  if (b.error_file_id) lines.push(`  error file:  ${b.error_file_id}`);
  for (const e of b.errors?.data ?? []) lines.push(`  error${e.line ? ` (line ${e.line})` : ''}: ${e.code}: ${e.message}`);
  return lines.join('\n');
}

async function watch(client: OpenAI, id: string, io: CliIo, intervalMs: number): Promise<Batch> {
  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let last = '';
  for (;;) {
    const batch = await client.batches.retrieve(id);
    const line = progressLine(batch);
    if (io.isTTY) io.out.write(`\r${line}\x1b[K`);
    else if (line !== last) io.out.write(`${line}\n`);
    last = line;
    if (TERMINAL.has(batch.status)) {
      if (io.isTTY) io.out.write('\n');
      return batch;
    }
    await sleep(intervalMs);
  }
}

/** The models a JSONL file names, with their 1-based line numbers (lines that do not parse are left to the server). */
export function modelsOf(text: string): Map<string, number[]> {
  const models = new Map<string, number[]>();
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      const model = (JSON.parse(raw) as { body?: { model?: unknown } }).body?.model;
      if (typeof model === 'string') models.set(model, [...(models.get(model) ?? []), i + 1]);
    } catch {
      // the server's validation names this line
    }
  });
  return models;
}

async function submit(client: OpenAI, cmd: Extract<Command, { name: 'submit' }>, io: CliIo, intervalMs: number): Promise<number> {
  if (cmd.modelCheck) {
    const wanted = modelsOf(await readFile(cmd.file, 'utf8'));
    const available = new Set<string>();
    for await (const m of client.models.list()) available.add(m.id);
    const missing = [...wanted].filter(([m]) => !available.has(m));
    if (missing.length > 0) {
      for (const [m, lines] of missing) io.err.write(`model '${m}' (line${lines.length > 1 ? 's' : ''} ${lines.slice(0, 10).join(', ')}${lines.length > 10 ? ', …' : ''}) is not available to this key\n`);
      return 1;
    }
  }
  const file = await client.files.create({ file: createReadStream(cmd.file), purpose: 'batch' });
  const batch = await client.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
    ...(Object.keys(cmd.metadata).length > 0 && { metadata: cmd.metadata }),
  });
  io.out.write(`${batch.id}\n`);
  if (!cmd.watch) return 0;
  const done = await watch(client, batch.id, io, intervalMs);
  io.out.write(`${summary(done)}\n`);
  return done.status === 'completed' ? 0 : 1;
}

async function saveFile(client: OpenAI, fileId: string, path: string | undefined, io: CliIo): Promise<void> {
  const res = await client.files.content(fileId);
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  if (path) await pipeline(body, createWriteStream(path));
  else for await (const chunk of body) if (!io.out.write(chunk)) await once(io.out, 'drain');
}

async function results(client: OpenAI, cmd: Extract<Command, { name: 'results' }>, io: CliIo): Promise<number> {
  const batch = await client.batches.retrieve(cmd.id);
  if (!TERMINAL.has(batch.status)) {
    io.err.write(`batch ${batch.id} is ${batch.status}: its results are written when it ends (try: status ${batch.id} --watch)\n`);
    return 1;
  }
  if (cmd.errors && batch.error_file_id) await saveFile(client, batch.error_file_id, cmd.errors, io);
  if (!batch.output_file_id) {
    io.err.write(`batch ${batch.id} (${batch.status}) has no output file${batch.error_file_id ? `; its error file is ${batch.error_file_id}` : ''}\n`);
    return 1;
  }
  await saveFile(client, batch.output_file_id, cmd.out, io);
  if (cmd.out) io.err.write(`wrote ${cmd.out}${cmd.errors && batch.error_file_id ? ` and ${cmd.errors}` : ''}\n`);
  return 0;
}

/** Runs one command; resolves to the process exit code. API errors are reported, not thrown. */
export async function runCli(opts: CliOptions, io: CliIo, client?: OpenAI): Promise<number> {
  const cmd = opts.command;
  if (cmd.name === 'help') {
    io.out.write(`${USAGE}\n`);
    return 0;
  }
  const api = client ?? new OpenAI({ baseURL: opts.baseURL, apiKey: opts.apiKey, maxRetries: 2 });
  try {
    switch (cmd.name) {
      case 'submit':
        return await submit(api, cmd, io, opts.intervalMs);
      case 'status': {
        const batch = cmd.watch ? await watch(api, cmd.id, io, opts.intervalMs) : await api.batches.retrieve(cmd.id);
        io.out.write(cmd.json ? `${JSON.stringify(batch, null, 2)}\n` : `${summary(batch)}\n`);
        return 0;
      }
      case 'results':
        return await results(api, cmd, io);
      case 'cancel': {
        const batch = await api.batches.cancel(cmd.id);
        io.out.write(`${batch.id}  ${batch.status}\n`);
        return 0;
      }
      case 'list': {
        const page = await api.batches.list({ limit: cmd.limit });
        for (const b of page.data) io.out.write(`${b.id}  ${new Date(b.created_at * 1000).toISOString()}  ${progressLine(b)}\n`);
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof OpenAI.APIError) {
      io.err.write(`error: ${err.status ?? ''} ${err.message}\n`);
      return 1;
    }
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      io.err.write(`error: no such file: ${(err as NodeJS.ErrnoException).path}\n`);
      return 1;
    }
    throw err;
  }
}
