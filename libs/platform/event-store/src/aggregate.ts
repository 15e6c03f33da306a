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
