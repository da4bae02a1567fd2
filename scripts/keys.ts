/**
 * Makes a gateway key: prints the key once (give it to the client) and the config entry with its hash
 * (put it in gateway.yaml's auth.keys or the keys file). `npm run keys -- new --id team-a --tenant acme`
 * `npm run keys -- hash <key>` prints the hash of an existing key (e.g. for auth.adminKeyHash).
 */
import { parseArgs } from 'node:util';
import { generateKey, hashKey } from '../src/auth/keys.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { id: { type: 'string' }, tenant: { type: 'string', default: 'default' }, models: { type: 'string' } },
});

const [command, arg] = positionals;
if (command === 'new') {
  const key = generateKey();
  const id = values.id ?? `key-${Date.now().toString(36)}`;
  const models = values.models ? `\n    models: [${values.models}]` : '';
  console.log(`key (shown once, give it to the client):\n  ${key}\n\nconfig entry (auth.keys):\n  - id: ${id}\n    hash: "${hashKey(key)}"\n    tenant: ${values.tenant}${models}`);
} else if (command === 'hash' && arg) {
  console.log(hashKey(arg));
} else {
  console.error('usage: npm run keys -- new [--id ID] [--tenant T] [--models a,b]  |  npm run keys -- hash KEY');
  process.exit(2);
}
