import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { EventEnvelope, EventRegistry, defineEvent } from '@mdm/contracts/core';
import { kafkaHeaders } from '@mdm/platform/event-store';

/** A device-ish payload of about 200 bytes of JSON: the size of a typical domain event. */
const recordedData = z
  .object({
    deviceId: z.string().uuid(),
    serial: z.string(),
    model: z.string(),
    osVersion: z.string(),
    seq: z.number().int(),
    note: z.string(),
  })
  .strict();
export type RecordedData = z.infer<typeof recordedData>;

/** Stays in the store (no topic): the store-only figure. */
export const BenchRecorded = defineEvent({ type: 'BenchRecorded', data: recordedData });

/** Same payload, routed to a topic: the append also writes the outbox row and NOTIFYs. */
export function benchRecordedOn(topic: string) {
  return defineEvent({ type: 'BenchRecordedPublished', topic, data: recordedData });
}

/** About 1 KB of envelope once serialised: what the relay and the raw producer move. */
export const BenchPublished = defineEvent({
  type: 'BenchPublished',
  topic: 'mdm.bench.outbox',
  data: z.object({ seq: z.number().int(), blob: z.string() }).strict(),
});

export const TENANT_ID = randomUUID();
const NOTE_PAD = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt';

export function recordedData200(seq: number): RecordedData {
  const base = { deviceId: randomUUID(), serial: 'C02XK1ABJG5H', model: 'MacBookPro18,3', osVersion: '14.5.1', seq, note: '' };
  const room = Math.max(0, 200 - JSON.stringify(base).length);
  return { ...base, note: NOTE_PAD.repeat(3).slice(0, room) };
}

/** A blob that brings a BenchPublished envelope to about 1 KB. */
export const BLOB_1K = 'abcdefghij'.repeat(60);

export function envelope(type: string, data: unknown, streamId: string, streamVersion: number): EventEnvelope {
  const now = new Date().toISOString();
  return {
    eventId: randomUUID(),
    type,
    schemaVersion: 1,
    streamId,
    streamVersion,
    tenantId: TENANT_ID,
    occurredAt: now,
    recordedAt: now,
    actor: 'bench',
    correlationId: randomUUID(),
    causationId: null,
    data,
  };
}

/** A Kafka message as the relay builds it from an outbox row: key = stream id, value = envelope JSON. */
export function relayMessage(e: EventEnvelope): { key: string; value: string; headers: Record<string, string> } {
  return { key: e.streamId, value: JSON.stringify(e), headers: kafkaHeaders(e) };
}

export function registryWith(...defs: Parameters<EventRegistry['register']>[0][]): EventRegistry {
  return new EventRegistry(defs);
}
