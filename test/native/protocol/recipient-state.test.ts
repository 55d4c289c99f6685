import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allowedEvents,
  FINAL_STATES,
  isFinal,
  RECIPIENT_EVENTS,
  RECIPIENT_STATES,
  type RecipientEvent,
  type RecipientState,
  transition,
} from '../../../src/native/protocol/recipient-state.js';

function run(events: RecipientEvent[], from: RecipientState = 'notified'): RecipientState | string {
  let state = from;
  for (const event of events) {
    const next = transition(state, event);
    if (!next.ok) return `illegal ${event} in ${state}`;
    state = next.state;
  }
  return state;
}

describe('recipient state machine', () => {
  it('walks the common paths', () => {
    expect(run(['accept', 'fetch', 'deliver'])).toBe('delivered');
    expect(run(['defer', 'defer', 'challenge', 'accept', 'fetch', 'fetch', 'reject'])).toBe('rejected');
    expect(run(['redirect', 'accept', 'edit', 'accept', 'fetch', 'deliver'])).toBe('delivered');
    expect(run(['defer', 'give-up'])).toBe('given-up');
    expect(run(['challenge', 'expire'])).toBe('expired');
    expect(run(['accept', 'retract'])).toBe('retracted');
  });

  it('refuses to retract, edit or expire after the pull', () => {
    for (const event of ['retract', 'edit', 'expire', 'accept', 'defer'] as const) {
      expect(transition('fetched', event)).toEqual({ ok: false, code: 'illegal_transition', from: 'fetched', event });
    }
  });

  it('cannot deliver what was not fetched', () => {
    expect(run(['accept', 'deliver'])).toBe('illegal deliver in accepted');
    expect(run(['deliver'])).toBe('illegal deliver in notified');
  });

  it('final states accept no event', () => {
    for (const state of FINAL_STATES) {
      expect(isFinal(state)).toBe(true);
      expect(allowedEvents(state)).toEqual([]);
    }
    expect(RECIPIENT_STATES.filter((s) => !isFinal(s))).toEqual([
      'notified',
      'deferred',
      'challenged',
      'accepted',
      'fetched',
    ]);
  });

  it('every state is reachable from notified', () => {
    const seen = new Set<RecipientState>(['notified']);
    for (let grew = true; grew; ) {
      grew = false;
      for (const state of [...seen]) {
        for (const event of allowedEvents(state)) {
          const next = transition(state, event);
          if (next.ok && !seen.has(next.state)) {
            grew = true;
            seen.add(next.state);
          }
        }
      }
    }
    expect([...seen].sort()).toEqual([...RECIPIENT_STATES].sort());
  });

  it('random event sequences: once final, every further event is illegal (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...RECIPIENT_EVENTS), { maxLength: 30 }), (events) => {
        let state: RecipientState = 'notified';
        let wasFinal = false;
        for (const event of events) {
          const next = transition(state, event);
          if (wasFinal) expect(next.ok).toBe(false);
          if (next.ok) state = next.state;
          wasFinal = isFinal(state);
        }
      }),
    );
  });
});
