import { randomBytes } from 'node:crypto';
import { it } from 'vitest';
import { rfc5322ToPmtp } from '../../src/translate/rfc5322-to-pmtp.js';
import { ARRIVAL } from './support.js';
const BLOCK = randomBytes(57 * 1024);
const ENCODED = Buffer.from(`${BLOCK.toString('base64').replace(/.{76}/g, '$&\r\n')}`, 'latin1');
const HEAD = Buffer.from('From: Alice <alice@a.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="big-1"\r\n\r\n--big-1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n');
async function* message(n: number) { yield HEAD; for (let i = 0; i < n; i++) yield ENCODED; yield Buffer.from('--big-1--\r\n'); }
const mem = () => { const m = process.memoryUsage(); return `rss ${m.rss >> 20} heap ${m.heapUsed >> 20}/${m.heapTotal >> 20} ext ${m.external >> 20} ab ${m.arrayBuffers >> 20}`; };
it('scratch', async () => {
  for (const n of [90, 360, 720, 1440]) {
    const base = process.memoryUsage().rss; let peak = base; let p = ''; let k = 0;
    await rfc5322ToPmtp(message(n), ARRIVAL, async (_i, _m, octets) => { for await (const c of octets) { const r = process.memoryUsage().rss; if (r > peak) { peak = r; p = mem(); } k++; } });
    console.log(n, 'blocks', ((peak - base) >> 20), 'MB growth; at peak', p, 'chunks', k);
  }
});
