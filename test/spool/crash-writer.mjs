// Child process for the crash tests: writes one spool entry and, at the named step,
// reports the queue id and hangs so the parent can kill -9 it right there.
import { Readable } from 'node:stream';
import { Spool } from '../../dist/spool/spool.js';

const [dir, stopAt] = process.argv.slice(2);
const hang = (queueId) => {
  process.stdout.write(`AT ${stopAt} ${queueId}\n`);
  return new Promise(() => {});
};
const spool = new Spool(dir, { instance: 'writer', onStep: (step, queueId) => (step === stopAt ? hang(queueId) : undefined) });
await spool.init();
const draft = await spool.draft();
const half = Buffer.alloc(64 * 1024, 'a');
async function* body() {
  yield half;
  if (stopAt === 'mid-body') await hang(draft.queueId);
  yield half;
}
await draft.writeBody(Readable.from(body()));
await draft.commit({ kind: 'test', createdAt: new Date(0).toISOString(), envelope: { mailFrom: 'a@x.test', rcptTo: ['b@y.test'] }, queue: 'inbound' });
process.stdout.write(`AT done ${draft.queueId}\n`);
await hang(draft.queueId);
