import { randomUUID } from 'node:crypto';
import { DomainError, EventEnvelope } from '@mdm/contracts/core';

/** An envelope as a producing service would publish it; the test names what matters. */
export function envelopeFixture<T>(
  fields: Pick<EventEnvelope, 'type' | 'streamId' | 'tenantId'> & Partial<EventEnvelope> & { data: T },
): EventEnvelope<T> {
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
