import { z } from 'zod';
import { EventEnvelope } from './envelope';

/** Raises an older payload by one schema version. */
export type Upcaster = (data: unknown) => unknown;

export interface EventDefinition<TType extends string = string, TSchema extends z.ZodTypeAny = z.ZodTypeAny> {
  readonly type: TType;
  /** Current schema version: what producers write. */
  readonly schemaVersion: number;
  /** Topic the event is published to; undefined keeps it inside its service. */
  readonly topic?: string;
  /**
   * Narrower topics that carry a copy as well (same event id, key and bytes), for a consumer that
   * wants this event and none of the rest of its topic's traffic.
   */
  readonly alsoOn?: readonly string[];
  readonly data: TSchema;
  /** upcasters[v] turns a version-v payload into version v+1. */
  readonly upcasters: Readonly<Record<number, Upcaster>>;
}

export function defineEvent<TType extends string, TSchema extends z.ZodTypeAny>(def: {
  type: TType;
  schemaVersion?: number;
  topic?: string;
  alsoOn?: readonly string[];
  data: TSchema;
  upcasters?: Record<number, Upcaster>;
}): EventDefinition<TType, TSchema> {
  const copies = def.alsoOn ?? [];
  if (copies.length > 0 && (!def.topic || new Set([def.topic, ...copies]).size !== copies.length + 1)) {
    throw new Error(`${def.type}: alsoOn names topics besides its own topic, each once`);
  }
  return { schemaVersion: 1, upcasters: {}, ...def };
}

export type EventData<D> = D extends EventDefinition<string, infer S> ? z.infer<S> : never;

/** A typed event as the domain produces it, before the store wraps it in an envelope. */
export interface DomainEvent<TType extends string = string, TData = unknown> {
  type: TType;
  data: TData;
}

export type DomainEventOf<D> = D extends EventDefinition<infer T, infer S> ? DomainEvent<T, z.infer<S>> : never;

export type TypedEnvelope<D> = D extends EventDefinition<infer T, infer S> ? EventEnvelope<z.infer<S>, T> : never;

/**
 * Whether an envelope is of the definition's type, which then types its payload: for a consumer
 * whose events the registry decoded (and validated) without knowing which it would be handed.
 */
export function isEvent<T extends string, S extends z.ZodTypeAny>(event: EventEnvelope, definition: EventDefinition<T, S>): event is EventEnvelope<z.infer<S>, T> {
  return event.type === definition.type;
}
