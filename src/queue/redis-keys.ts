// How our Redis keys are named for Redis Cluster. A prefix that starts with a {hash-tag} pins every
// key to one slot (one shard does all the work); a plain prefix gives each queue, and each group of
// keys one command or script touches together, a hash tag of its own, so the shards share the load.

/** Whether the prefix pins every key to one slot: it starts with a {hash-tag}. */
export function pinsOneSlot(prefix: string): boolean {
  return prefix.startsWith('{');
}

/**
 * The key `path` under `prefix`, in the slot of `group`: keys of one group may be used together in
 * a MULTI or a script. Under a pinned prefix the name is `prefix:path`, as it always was.
 */
export function groupedKey(prefix: string, group: string, path: string): string {
  return pinsOneSlot(prefix) ? `${prefix}:${path}` : `{${prefix}:${group}}:${path}`;
}

/**
 * The BullMQ prefix of one queue: all of the queue's keys share a slot, each queue a slot of its own.
 * A fleet node (`node.id`) has queues of its own, which no other node consumes: their jobs name
 * spool entries only its disk holds.
 */
export function queuePrefix(prefix: string, queue: string, node?: string): string {
  if (node === undefined) return pinsOneSlot(prefix) ? prefix : `{${prefix}:${queue}}`;
  return pinsOneSlot(prefix) ? `${prefix}:node:${node}` : `{${prefix}:node:${node}:${queue}}`;
}
