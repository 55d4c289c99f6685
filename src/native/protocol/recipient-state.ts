// The life of one (message, recipient) pair, the same on both sides: a pure transition function that
// refuses illegal moves, and the set of final states. Editing or withdrawing is possible only until
// the pull; after it, only the ack's verdict can follow.

export const RECIPIENT_STATES = [
  'notified',
  'deferred',
  'challenged',
  'accepted',
  'fetched',
  'delivered',
  'rejected',
  'expired',
  'retracted',
  'given-up',
] as const;
export type RecipientState = (typeof RECIPIENT_STATES)[number];

export const RECIPIENT_EVENTS = [
  'defer',
  'challenge',
  'accept',
  'redirect',
  'edit',
  'fetch',
  'deliver',
  'reject',
  'expire',
  'retract',
  'give-up',
] as const;
export type RecipientEvent = (typeof RECIPIENT_EVENTS)[number];

export const FINAL_STATES: ReadonlySet<RecipientState> = new Set([
  'delivered',
  'rejected',
  'expired',
  'retracted',
  'given-up',
]);

/** Events that can happen while the recipient side is still deciding (nothing pulled yet). */
const DECIDING: Partial<Record<RecipientEvent, RecipientState>> = {
  defer: 'deferred',
  challenge: 'challenged',
  accept: 'accepted',
  reject: 'rejected',
  // A redirect sends the notice again, elsewhere; an edit replaces it by a new version.
  redirect: 'notified',
  edit: 'notified',
  expire: 'expired',
  retract: 'retracted',
  'give-up': 'given-up',
};

const TABLE: Record<RecipientState, Partial<Record<RecipientEvent, RecipientState>>> = {
  notified: DECIDING,
  deferred: DECIDING,
  challenged: DECIDING,
  // Accepted: the pull is due; the sender may still edit or withdraw until it happens.
  accepted: {
    fetch: 'fetched',
    edit: 'notified',
    reject: 'rejected',
    expire: 'expired',
    retract: 'retracted',
    'give-up': 'given-up',
  },
  // Fetched: a retried pull is harmless; only the ack's verdict or the sender giving up on the ack remain.
  fetched: { fetch: 'fetched', deliver: 'delivered', reject: 'rejected', 'give-up': 'given-up' },
  delivered: {},
  rejected: {},
  expired: {},
  retracted: {},
  'given-up': {},
};

export type TransitionResult =
  | { ok: true; state: RecipientState }
  | { ok: false; code: 'illegal_transition'; from: RecipientState; event: RecipientEvent };

export function transition(state: RecipientState, event: RecipientEvent): TransitionResult {
  const next = TABLE[state][event];
  return next === undefined ? { ok: false, code: 'illegal_transition', from: state, event } : { ok: true, state: next };
}

export function isFinal(state: RecipientState): boolean {
  return FINAL_STATES.has(state);
}

/** The events a state accepts, e.g. to document or to offer in an operator UI. */
export function allowedEvents(state: RecipientState): RecipientEvent[] {
  return RECIPIENT_EVENTS.filter((event) => TABLE[state][event] !== undefined);
}
