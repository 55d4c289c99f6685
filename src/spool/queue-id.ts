// Queue ids: short, sortable by arrival time, safe as file names and BullMQ job ids.
// 10 base32 characters of milliseconds, then 8 random ones (40 bits), like Postfix's long ids.

import { randomBytes } from 'node:crypto';

const alphabet = '0123456789BCDFGHJKLMNPQRSTVWXYZb'; // no vowels: ids never spell words
const idPattern = /^[0-9BCDFGHJKLMNPQRSTVWXYZb]{18}$/;

export function newQueueId(nowMs: number, random: Buffer = randomBytes(5)): string {
  let time = '';
  let t = Math.floor(nowMs);
  for (let i = 0; i < 10; i++) {
    time = alphabet[t % 32] + time;
    t = Math.floor(t / 32);
  }
  let rand = '';
  let bits = 0n;
  for (const byte of random.subarray(0, 5)) bits = (bits << 8n) | BigInt(byte);
  for (let i = 0; i < 8; i++) {
    rand = alphabet[Number(bits & 31n)] + rand;
    bits >>= 5n;
  }
  return time + rand;
}

export function isQueueId(value: string): boolean {
  return idPattern.test(value);
}

/** When a queue id was made (ms): its first 10 characters; NaN for a string that is not one. */
export function queueIdTime(queueId: string): number {
  if (!isQueueId(queueId)) return Number.NaN;
  let t = 0;
  for (const c of queueId.slice(0, 10)) t = t * 32 + alphabet.indexOf(c);
  return t;
}
