import { Pool } from 'undici';
import http from 'node:http';
import { startFakeProvider } from './server.js';
const mode = process.argv[2];
let url: string; let close: () => Promise<void>;
if (mode === 'baseline') {
  const s = http.createServer({ keepAlive: true }, async (req, res) => { const c = []; for await (const x of req) c.push(x); JSON.parse(Buffer.concat(c).toString()); const t = JSON.stringify({ ok: 1, text: 'Echo: hello world' }); res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(t) }); res.end(t); });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r)); url = `http://127.0.0.1:${(s.address() as any).port}`; close = async () => { s.closeAllConnections(); s.close(); };
} else { const f = await startFakeProvider(); url = f.url; close = f.close; }
const pool = new Pool(url, { connections: 50 });
const body = JSON.stringify({ model: 'm', messages: [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: 'Tell me a story about a brave little fox in ten words' }] });
for (const stream of [false, true]) {
  const b = stream ? body.replace('{"model"', '{"stream":true,"model"') : body;
  const N = 20000; let done = 0; const t = performance.now();
  const lat: number[] = [];
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (done < N) { done++; const s = performance.now();
      const r = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { authorization: 'Bearer k', 'content-type': 'application/json' }, body: b });
      await r.body.text(); lat.push(performance.now() - s); }
  }));
  lat.sort((a, b) => a - b);
  console.log({ mode, stream, rps: Math.round(N / ((performance.now() - t) / 1000)), p50: lat[lat.length >> 1]!.toFixed(2), p99: lat[Math.floor(lat.length * 0.99)]!.toFixed(2) });
}
await pool.close(); await close();
