// Child process for the crash tests: writes spool entries (one, or several committing at once) and,
// at the first arrival at the named step, reports that queue id and hangs that write so the parent
// can kill -9 it right there; the other writes run on until the kill.
import { Readable } from 'node:stream';
import { Spool } from '../../dist/spool/spool.js';

const [dir, stopAt, parallel = '1'] = process.argv.slice(2);
const hang = (queueId) => {
  process.stdout.write(`AT ${stopAt} ${queueId}\n`);
  return new Promise(() => {});
};
let stopped = false;
const stopOnce = (queueId) => {
  if (stopped) return undefined;
  stopped = true;
  return hang(queueId);
};
const spool = new Spool(dir, {
  instance: 'writer',
  onStep: (step, queueId) => (step === stopAt ? stopOnce(queueId) : undefined),
});
await spool.init();
const half = Buffer.alloc(64 * 1024, 'a');

async function writeOne() {
  const draft = await spool.draft();
  async function* body() {
    yield half;
    if (stopAt === 'mid-body') await stopOnce(draft.queueId);
    yield half;
  }
  await draft.writeBody(Readable.from(body()));
  await draft.commit({
    kind: 'dsn',
    queue: 'outbound',
    createdAt: new Date(0).toISOString(),
    envelope: { mailFrom: '', rcptTo: ['b@y.test'] },
  });
  return draft.queueId;
}

const ids = await Promise.all(Array.from({ length: Number(parallel) }, writeOne));
stopAt === 'done' ? await stopOnce(ids[0]) : await new Promise(() => {});
