/**
 * `npm run batch -- submit input.jsonl --watch` · `status ID` · `results ID --out out.jsonl` · `cancel ID` ·
 * `list`: the Batch API from the command line, over HTTP with the official openai SDK (see src/batches/cli.ts).
 */
import { parseCli, runCli, USAGE, UsageError } from '../src/batches/cli.js';

try {
  const opts = parseCli(process.argv.slice(2), process.env);
  process.exitCode = await runCli(opts, { out: process.stdout, err: process.stderr, isTTY: process.stdout.isTTY === true });
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`${err.message}\n\n${USAGE}`);
  process.exitCode = 2;
}
