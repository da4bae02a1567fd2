/**
 * The HTTP server's own settings beside host and port: where the operator routes are served, and the limits
 * that keep slow or idle clients from holding the server (header and request timeouts, keep-alive, a
 * connection cap, the longest long-poll).
 */
import { z } from 'zod';

/**
 * The operator routes (`/status`, `/status.json`, `/metrics`, `/health/deployments`). On the main port they
 * need the admin key (or come from this machine, with `localWithoutKey`); with `port` set they are also served
 * on their own listener, without a key, bound to `host` (loopback unless the operator opens it).
 */
export const operatorSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).optional(),
  /** Clients on this machine (loopback peer, no proxy forwarding headers) read them on the main port without a key. */
  localWithoutKey: z.boolean().default(false),
});

export const serverConnectionFields = {
  /** A client must send its request headers within this time, or gets 408 and is disconnected. */
  headersTimeoutMs: z.number().int().min(100).default(30_000),
  /** The whole request (headers and body) must arrive within this time (0: no limit); answers may take longer. */
  requestTimeoutMs: z.number().int().min(0).default(300_000),
  /** An idle keep-alive connection is closed after this time (longer than typical clients' and load balancers' idle timeouts). */
  keepAliveTimeoutMs: z.number().int().min(0).default(65_000),
  /** Connections open at once on the main port; further ones are closed at once. */
  maxConnections: z.number().int().positive().default(8192),
  /** The longest `GET /v1/requests/{id}?wait=` long-poll; longer waits are cut to this. */
  longPollMaxMs: z.number().int().min(0).max(600_000).default(60_000),
};

export type OperatorConfig = z.infer<typeof operatorSchema>;

/** The server block's fields defined here, as parsed (defaults applied). */
export type ServerSettings = { operator: OperatorConfig } & { [K in keyof typeof serverConnectionFields]: number };
