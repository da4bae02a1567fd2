/**
 * Standalone fake provider for benchmarks and crash tests in other processes:
 *   tsx test/fake-provider/main.ts [--port 9999] [--host 127.0.0.1]
 * Prints one JSON line {"url": ...} once listening; script it via POST /__script, /__release,
 * /__reset and inspect it via GET /__requests.
 */
import { parseArgs } from 'node:util';
import { startFakeProvider } from './server.js';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});

const fake = await startFakeProvider({ port: Number(values.port), host: values.host });
process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);

const stop = () => {
  fake.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
