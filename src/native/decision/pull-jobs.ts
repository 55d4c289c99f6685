// Queues the recipient side's next step for a notice: a full pull once a recipient is accepted,
// or a decision for recipients deferred until the sender's provenance is checked. The job ids
// make a repeated notice or a second decision queue nothing new.

import { decideJobId, pullJobId } from '../../mail/jobs.js';
import type { MailQueues } from '../../queue/queues.js';

export async function queuePull(
  queues: Pick<MailQueues, 'add'>,
  origin: string,
  id: string,
  version: number,
  mode: 'full' | 'decide',
): Promise<void> {
  const jobId = mode === 'full' ? pullJobId(origin, id, version) : decideJobId(origin, id, version);
  await queues.add('pull', { mode, origin, id, version }, { jobId });
}
