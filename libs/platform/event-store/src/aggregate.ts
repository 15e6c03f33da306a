import { EventEnvelope } from '@mdm/contracts/core';

/** A pure aggregate: how state folds from events. Commands are plain functions beside it. */
export interface Evolver<S, E> {
  initial: S;
  evolve(state: S, event: E): S;
}

export function fold<S, E>(evolver: Evolver<S, E>, events: Iterable<E>): S {
  let state = evolver.initial;
  for (const e of events) state = evolver.evolve(state, e);
  return state;
}

/** Folds stored envelopes, keeping the stream version for the next optimistic append. */
export function foldStream<S, E>(
  evolver: Evolver<S, E>,
  envelopes: EventEnvelope[],
  toEvent: (e: EventEnvelope) => E = (e) => e as unknown as E,
): { state: S; version: number } {
  return {
    state: fold(evolver, envelopes.map(toEvent)),
    version: envelopes.length ? envelopes[envelopes.length - 1].streamVersion : 0,
  };
}
