// `mailbridge node adopt`: a fleet node takes over a dead node's disk. Each spool entry is copied
// into our spool (fsynced, then renamed in, then removed there), the outbox copies it held are
// recorded as ours, its queued jobs move to our queues with their ids and remaining delays, and a
// reconcile gives any entry still without a job its job back. Each step may be run again.
import { copyFile, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { Config, QueueName } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { JobDataByQueue } from '../mail/jobs.js';
import { OutboxIndex } from '../native/state/outbox-index.js';
import { MessageAcceptor } from '../queue/accept.js';
import type { MailQueues } from '../queue/queues.js';
import { queueNames } from '../queue/queues.js';
import type { RedisClient } from '../queue/redis-connection.js';
import { queuePrefix } from '../queue/redis-keys.js';
import { Spool } from '../spool/spool.js';

export interface AdoptionDeps {
  readonly config: Config;
  readonly redis: RedisClient;
  readonly queues: MailQueues;
  /** our own spool */
  readonly spool: Spool;
  readonly log: Logger;
}

export interface Adopted {
  readonly entries: number;
  readonly outboxCopies: number;
  readonly jobs: number;
  readonly requeued: number;
}

/** Job states that still mean work: the dead node's finished and failed jobs stay behind. */
const liveStates = ['wait', 'delayed', 'active', 'paused', 'prioritized', 'waiting-children'] as const;

export async function adoptNode(deps: AdoptionDeps, from: string, fromSpoolDir: string): Promise<Adopted> {
  const self = deps.config.node?.id;
  if (!self) throw new Error('this gateway is no fleet node: set node.id in its config');
  if (from === self) throw new Error(`node ${from} is this node`);
  await deps.spool.init();
  const theirs = new Spool(fromSpoolDir, { instance: 'adopt' });
  const outbox = new OutboxIndex(deps.redis, deps.config.redis.prefix);
  let entries = 0;
  let outboxCopies = 0;
  for (const queueId of await theirs.list()) {
    await moveEntry(theirs.entryPath(queueId), deps.spool.entryPath(queueId), deps.spool.tmpDir);
    entries++;
    const entry = await deps.spool.read(queueId);
    if (entry.meta.kind === 'pmtp-outbox') {
      await outbox.moveOwner(entry.meta.pmtp.id, from, self);
      outboxCopies++;
    }
  }
  let jobs = 0;
  for (const name of queueNames) jobs += await moveJobs(deps, name, from);
  const acceptor = new MessageAcceptor(deps.spool, deps.queues, deps.log);
  const { requeued } = await acceptor.reconcile(0);
  return { entries, outboxCopies, jobs, requeued: requeued.length };
}

/** Copies, fsyncs, renames into our entries folder, fsyncs it, then removes the source: never lost, at worst twice. */
async function moveEntry(source: string, target: string, tmpDir: string): Promise<void> {
  const scratch = path.join(tmpDir, `adopt-${path.basename(target)}`);
  await copyFile(source, scratch);
  await fsyncPath(scratch);
  await rename(scratch, target);
  await fsyncPath(path.dirname(target));
  await unlink(source);
}

async function fsyncPath(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Re-adds the dead node's live jobs of one queue to ours (same id and remaining delay), then empties its queue. */
async function moveJobs(deps: AdoptionDeps, name: QueueName, from: string): Promise<number> {
  const theirs = new Queue(name, { connection: deps.redis, prefix: queuePrefix(deps.config.redis.prefix, name, from) });
  try {
    const jobs = await theirs.getJobs([...liveStates]);
    const now = Date.now();
    for (const job of jobs) {
      if (job.id === undefined) continue;
      const delayMs = Math.max(0, job.timestamp + (job.delay ?? 0) - now);
      await deps.queues.add(name, job.data as JobDataByQueue[typeof name], { jobId: job.id, delayMs });
    }
    // its active jobs hold the dead process's locks: only a forced obliterate clears them
    await theirs.obliterate({ force: true });
    return jobs.length;
  } finally {
    await theirs.close();
  }
}
