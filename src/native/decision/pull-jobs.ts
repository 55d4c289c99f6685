// Queues the recipient side's next step for a notice: a full pull once a recipient is accepted,
// or a decision for recipients deferred until the sender's provenance is checked. The job ids
// make a repeated notice or a second decision queue nothing new while the job waits or runs.

import { decideJobId, pullJobId } from '../../mail/jobs.js';
import type { MailQueues } from '../../queue/queues.js';

export async function queuePull(
  queues: Pick<MailQueues, 'add' | 'queue'>,
  origin: string,
  id: string,
  version: number,
  mode: 'full' | 'decide',
): Promise<void> {
  const jobId = mode === 'full' ? pullJobId(origin, id, version) : decideJobId(origin, id, version);
  // a finished job of this id would swallow the add: a recipient accepted after that pull (a
  // solved challenge, a later decision) needs it to run again
  const finished = await queues.queue('pull').getJob(jobId);
  const state = finished ? await finished.getState() : undefined;
  if (state === 'completed' || state === 'failed') await finished?.remove();
  await queues.add('pull', { mode, origin, id, version }, { jobId });
}
