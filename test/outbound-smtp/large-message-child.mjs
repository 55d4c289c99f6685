// Child process for the memory test: spools a large message, runs the real outbound worker
// (DKIM signing on) until the job finishes, then reports its peak RSS as one JSON line.
// argv: <compiled src dir> <config YAML> <message bytes> <mx name>

import path from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';

const [dist, yamlText, sizeText, mxName] = process.argv.slice(2);
const load = (file) => import(path.join(dist, file));
const { parseConfig } = await load('config/load.js');
const { Spool } = await load('spool/spool.js');
const { MessageAcceptor } = await load('queue/accept.js');
const { MailQueues, createMailWorker } = await load('queue/queues.js');
const { createRedisConnection } = await load('queue/redis-connection.js');
const { DeliveryStatusStore } = await load('queue/delivery-status.js');
const { SmtpDelivery } = await load('outbound-smtp/deliver.js');
const { loadDomainSigners } = await load('mail/domain-signers.js');
const { createOutboundProcessor } = await load('outbound-smtp/outbound-worker.js');

const config = parseConfig(yamlText, '/virtual/test.yaml');
const size = Number(sizeText);
const log = pino({ level: 'silent' });
const resolver = {
  resolveMx: async () => [{ exchange: mxName, priority: 10 }],
  resolve4: async () => ['127.0.0.1'],
  resolve6: async () => Promise.reject(Object.assign(new Error('ENODATA'), { code: 'ENODATA' })),
  resolveTxt: async () => Promise.reject(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' })),
  resolve: async () => Promise.reject(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' })),
};

function* message() {
  yield Buffer.from(
    'From: alice@example.org\r\nTo: bob@big.example\r\nSubject: large\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n',
  );
  const line = Buffer.from(`${'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0'}\r\n`);
  const block = Buffer.concat(Array.from({ length: 1024 }, () => line));
  for (let sent = 0; sent < size; sent += block.length) yield block;
}

const spool = new Spool(config.spool.dir);
await spool.init();
const producer = createRedisConnection(config, 'producer');
const workerConnection = createRedisConnection(config, 'worker');
const queues = new MailQueues(config, producer);
const status = new DeliveryStatusStore(producer, config.redis.prefix);
const delivery = new SmtpDelivery(config);
const dkim = await loadDomainSigners(config, path.join(config.spool.dir, 'dkim-cache'));
const worker = createMailWorker(
  config,
  'outbound',
  createOutboundProcessor({ config, spool, resolver, delivery, status, log, dkim }),
  workerConnection,
);

const draft = await spool.draft();
const spooled = await draft.writeBody(Readable.from(message()));
const rssBefore = process.memoryUsage().rss;
const acceptor = new MessageAcceptor(spool, queues, log);
// pulled PMTP mail for a mailbox behind Postfix: the record that enters the outbound queue directly
const record = {
  kind: 'pmtp',
  queue: 'outbound',
  createdAt: new Date().toISOString(),
  envelope: { mailFrom: 'alice@example.org', rcptTo: ['bob@big.example'] },
  pmtp: { id: 'big', version: 1, origin: 'origin.example', trustClass: 'new-verified' },
};
const entry = await acceptor.accept(draft, record);
let state;
for (let i = 0; i < 1200; i++) {
  state = await (await queues.queue('outbound').getJob(entry.queueId))?.getState();
  if (state === 'completed' || state === 'failed') break;
  await new Promise((r) => setTimeout(r, 50));
}
const recipient = await status.recipient(entry.queueId, 'bob@big.example');
process.stdout.write(
  `${JSON.stringify({ spooled, state, recipient, rssBefore, maxRss: process.resourceUsage().maxRSS * 1024 })}\n`,
);
await worker.close();
delivery.close();
await queues.close();
producer.disconnect();
workerConnection.disconnect();
