import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { DomainError, EventDefinition, EventEnvelope } from '@mdm/contracts/core';

/** An envelope as a producing service would publish it; the test names what matters. */
export function envelopeFixture<T, TType extends string = string>(
  fields: Pick<EventEnvelope, 'streamId' | 'tenantId'> & Partial<Omit<EventEnvelope, 'type' | 'data'>> & { type: TType; data: T },
): EventEnvelope<T, TType> {
  const now = new Date().toISOString();
  return {
    eventId: randomUUID(),
    schemaVersion: 1,
    streamVersion: 1,
    occurredAt: now,
    recordedAt: now,
    actor: 'token:test',
    correlationId: randomUUID(),
    causationId: null,
    ...fields,
  };
}

/** An envelope of a contract's event: its type, schema version and payload are the definition's. */
export function eventFixture<T extends string, S extends z.ZodTypeAny>(
  definition: EventDefinition<T, S>,
  fields: Pick<EventEnvelope, 'streamId' | 'tenantId'> & Partial<Omit<EventEnvelope, 'type' | 'data'>> & { data: z.infer<S> },
): EventEnvelope<z.infer<S>, T> {
  return envelopeFixture({ ...fields, type: definition.type, schemaVersion: definition.schemaVersion });
}

/** The error of `type` that `fn` throws (a test of a refusal fails when there is none; another error is rethrown). */
export function thrown<E extends Error>(fn: () => unknown, type: abstract new (...args: never[]) => E): E {
  try {
    fn();
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error(`expected a ${type.name}`);
}

/** The DomainError a decision refuses with. */
export const refusal = (fn: () => unknown): DomainError => thrown(fn, DomainError);
