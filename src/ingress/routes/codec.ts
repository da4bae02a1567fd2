/**
 * The codec endpoint for the Temporal Web UI (its "Codec Server" setting): `POST /admin/codec/decode` and
 * `/encode` with `{ payloads: [...] }` in Temporal's JSON form (bytes as base64), so an operator's browser shows
 * the prompts and answers that history holds only as ciphertext.
 *
 * Operators only: the admin key (Bearer, x-api-key, or HTTP Basic — a browser that logged in once sends it with
 * the UI's "Include cross-origin credentials"), or a client on this machine where
 * `server.operator.localWithoutKey` allows it; on the operator listener (`server.operator.port`) without a key, as
 * the other operator routes there (a browser on the operator's network, or behind an SSH tunnel).
 * The UI calls from its own origin: CORS answers for the Temporal UI's origins only, with credentials.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { GatewayConfig } from '../../config/types.js';
import type { PipelineContext } from '../../pipeline/context.js';
import { HttpError } from '../../protocol/errors.js';
import { adminCheckOf, requireOperator } from '../operator-auth.js';

export const CODEC_PATH = '/admin/codec';

/** Where the gateway serves the codec, as the dev server's UI is told (`--ui-codec-endpoint`); undefined on port 0. */
export function codecEndpointUrl(config: Pick<GatewayConfig, 'server'>, portOverride?: number): string | undefined {
  const port = portOverride ?? config.server.port;
  if (!port) return undefined;
  const host = ['0.0.0.0', '::', ''].includes(config.server.host) ? '127.0.0.1' : config.server.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}${CODEC_PATH}`;
}

/** The Temporal UI's origins: the configured `durable.temporal.uiUrl`, and the embedded dev server's UI. */
export function uiOrigins(config: Pick<GatewayConfig, 'durable'>): Set<string> {
  const origins = new Set<string>();
  const { uiUrl } = config.durable.temporal;
  if (uiUrl) {
    try {
      origins.add(new URL(uiUrl).origin);
    } catch {
      // not a URL: no origin to allow
    }
  }
  const uiPort = config.durable.devServer.uiPort;
  for (const host of ['127.0.0.1', 'localhost']) origins.add(`http://${host}:${uiPort}`);
  return origins;
}

function cors(origins: Set<string>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.headers.origin;
    if (origin && origins.has(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
      res.setHeader('access-control-allow-headers', 'Content-Type, X-Namespace, Authorization, Authorization-Extras');
      res.setHeader('access-control-max-age', '600');
      if (req.headers['access-control-request-private-network'] === 'true') res.setHeader('access-control-allow-private-network', 'true');
    }
    res.setHeader('vary', 'Origin');
    // A preflight carries no credentials: it is answered before the key is checked.
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  };
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

function fromJson(body: unknown): Payload[] {
  const list = (body as { payloads?: unknown } | undefined)?.payloads;
  if (!Array.isArray(list)) throw new HttpError(400, "The body must be { payloads: [...] }", 'invalid_request_error', 'invalid_payloads', 'payloads');
  return list.map((p: JsonPayload, i) => {
    if (!p || typeof p !== 'object' || (p.data !== undefined && typeof p.data !== 'string')) {
      throw new HttpError(400, `payloads[${i}] must be { metadata: { name: base64 }, data: base64 }`, 'invalid_request_error', 'invalid_payloads', `payloads[${i}]`);
    }
    const metadata: Record<string, Uint8Array> = {};
    for (const [k, v] of Object.entries(p.metadata ?? {})) {
      if (typeof v !== 'string') throw new HttpError(400, `payloads[${i}].metadata.${k} must be base64`, 'invalid_request_error', 'invalid_payloads', `payloads[${i}].metadata`);
      metadata[k] = Buffer.from(v, 'base64');
    }
    return { metadata, data: Buffer.from(p.data ?? '', 'base64') };
  });
}

function toJson(payloads: Payload[]): { payloads: JsonPayload[] } {
  const b64 = (u: Uint8Array | null | undefined) => Buffer.from(u ?? new Uint8Array()).toString('base64');
  return {
    payloads: payloads.map((p) => ({ metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])), data: b64(p.data) })),
  };
}

/** Decodes one payload at a time: one the keys cannot open stays as it is, and the others are still shown. */
async function decodeEach(codec: PayloadCodec, payloads: Payload[]): Promise<Payload[]> {
  return Promise.all(payloads.map(async (p) => (await codec.decode([p]).catch(() => [p]))[0]!));
}

export interface CodecRouteOptions {
  /**
   * Served on the operator listener (`server.operator.port`, loopback unless opened): reaching it is the
   * access control, as for the other operator routes there, so no key is asked.
   */
  operatorListener?: boolean;
}

export function codecRoutes(ctx: PipelineContext, opts: CodecRouteOptions = {}): Router {
  const router = express.Router();
  router.use(cors(uiOrigins(ctx.config)));
  if (!opts.operatorListener) {
    // configs built by hand (tests) may lack the operator section the schema fills in
    const localWithoutKey = ctx.config.server.operator?.localWithoutKey ?? false;
    router.use(requireOperator({ registry: adminCheckOf(ctx.config.auth, ctx.keys), localWithoutKey }));
  }
  // The operator listener has no body reader of its own; on the main port the JSON body is read already.
  const json = express.json({ limit: ctx.config.server.bodyLimit });
  router.use((req, res, next) => (req.body === undefined ? json(req, res, next) : next()));
  const codec = () => ctx.durable?.payloadCodec;
  // Opened once in the operator's browser: the Basic challenge asks for the admin key, which the browser then
  // sends with the UI's credentialed codec calls under this path.
  router.get('/', (_req, res) => {
    const c = codec() as { currentKeyId?: string } | undefined;
    res.json({ object: 'codec_endpoint', encrypted: !!c?.currentKeyId, encrypts_with: c?.currentKeyId ?? null, decode: `${CODEC_PATH}/decode`, encode: `${CODEC_PATH}/encode` });
  });
  router.post('/decode', async (req, res) => {
    const payloads = fromJson(req.body);
    const c = codec();
    res.json(toJson(c ? await decodeEach(c, payloads) : payloads));
  });
  router.post('/encode', async (req, res) => {
    const payloads = fromJson(req.body);
    const c = codec();
    res.json(toJson(c ? await c.encode(payloads) : payloads));
  });
  return router;
}
