import { z } from 'zod';

/** The envelope of every domain event (DESIGN.md §1), as stored and as carried on Kafka. */
export const eventEnvelopeSchema = z
  .object({
    eventId: z.string().uuid(),
    type: z.string().min(1),
    schemaVersion: z.number().int().positive(),
    streamId: z.string().min(1),
    streamVersion: z.number().int().positive(),
    tenantId: z.string().uuid(),
    occurredAt: z.string().datetime(),
    recordedAt: z.string().datetime(),
    actor: z.string().min(1),
    correlationId: z.string().min(1),
    causationId: z.string().nullable(),
    data: z.unknown(),
  })
  .strict();

export type EventEnvelope<TData = unknown, TType extends string = string> = Omit<
  z.infer<typeof eventEnvelopeSchema>,
  'data' | 'type'
> & { type: TType; data: TData };

/** Kafka header names that copy envelope fields, so brokers-side tooling can route without parsing. */
export const EventHeaders = {
  eventId: 'event-id',
  type: 'event-type',
  schemaVersion: 'schema-version',
  tenantId: 'tenant-id',
  correlationId: 'correlation-id',
  causationId: 'causation-id',
} as const;
