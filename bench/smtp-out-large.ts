// Child process of the smtp-out benchmark: runs the outbound worker (DKIM signing on) until the
// one message the parent queued is delivered, then prints its peak RSS as one JSON line. A process
// of its own, so the figure is the sending of that message alone: no spooling, no earlier runs.
// argv: <config YAML> <queue id> <recipient>

import { parseConfig } from '../src/config/load.js';
import { outboundPipeline } from './outbound-pipeline.js';

const [yamlText = '', queueId = '', rcpt = ''] = process.argv.slice(2);

const pipeline = await outboundPipeline(parseConfig(yamlText, '/virtual/bench.yaml'));
try {
  const rssBefore = process.memoryUsage().rss;
  const ms = await pipeline.drain(1);
  const state = (await pipeline.status.recipient(queueId, rcpt))?.state;
  process.stdout.write(`${JSON.stringify({ state, ms, rssBefore, maxRss: process.resourceUsage().maxRSS * 1024 })}\n`);
} finally {
  await pipeline.close();
}
