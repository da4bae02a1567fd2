/** Connection settings for the Temporal cluster (or the embedded dev server), shared by client and worker. */
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { DurableConfig } from '../config/types.js';

export interface TemporalTarget {
  address: string;
  namespace: string;
  taskQueue: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

export function temporalTarget(durable: DurableConfig, address: string): TemporalTarget {
  const t = durable.temporal;
  let tls: TLSConfig | boolean | undefined;
  if (typeof t.tls === 'object') {
    tls = {
      serverNameOverride: t.tls.serverName,
      serverRootCACertificate: t.tls.caFile ? readFileSync(t.tls.caFile) : undefined,
      clientCertPair:
        t.tls.certFile && t.tls.keyFile ? { crt: readFileSync(t.tls.certFile), key: readFileSync(t.tls.keyFile) } : undefined,
    };
  } else tls = t.tls;
  // An API key implies TLS (Temporal Cloud refuses plaintext with keys).
  if (t.apiKey && tls === undefined) tls = true;
  return { address, namespace: t.namespace, taskQueue: t.taskQueue, tls, apiKey: t.apiKey };
}
