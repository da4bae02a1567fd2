/** The run's one Qdrant, started by the global setup; a test that needs it fails with why there is none. */
import { inject } from 'vitest';

export function sharedQdrantUrl(): string {
  const url = inject('qdrantUrl');
  if (!url) throw new Error(`this test needs a Qdrant server: ${inject('qdrantUnavailable')}`);
  return url;
}
