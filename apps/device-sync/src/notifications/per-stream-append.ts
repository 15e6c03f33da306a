import { randomUUID } from 'node:crypto';
import { EventEnvelope, EventRegistry } from '@mdm/contracts/core';
import { Clock } from '@mdm/platform/clock';
import { Sql } from '@mdm/platform/database';
import { kafkaHeaders } from '@mdm/platform/event-store';

export interface PerStreamAppendDeps {
  registry: EventRegistry;
  clock: Clock;
  /** NOTIFY channel the outbox relay listens on. */
  outboxChannel: string;
}

export interface PerStreamAppendOptions {
  tenantId: string;
  actor: string;
  correlationId: string;
  causationId: string | null;
  occurredAt?: Date;
}

/**
 * Appends one event of one type to each of many streams in a single statement, with expected
 * version 'any': EventStore.append takes one stream per call, and a fan-out that blocks 10,000
 * userless devices (R17) would otherwise cost 10,000 round trips inside the inbox transaction.
 * Writes what EventStore.append writes (es_streams with its published version, es_events, the
 * outbox row with the full envelope and its Kafka headers, the relay's NOTIFY); the int-spec reads
 * the result back through EventStore.readStream to keep the two in step.
 * TODO(platform): move into EventStore as appendToStreams once the event-store owner agrees.
 */
export class PerStreamAppend {
  constructor(private readonly deps: PerStreamAppendDeps) {}

  async append(sql: Sql, type: string, items: { streamId: string; data: unknown }[], opts: PerStreamAppendOptions): Promise<number> {
    if (items.length === 0) return 0;
    const def = this.deps.registry.get(type);
    if (!def.topic) throw new Error(`${type} is not published; PerStreamAppend only writes published events`);
    // Stream order is lock order: two fan-outs over overlapping streams cannot deadlock each other.
    const sorted = [...items].sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));
    const recordedAt = this.deps.clock.now().toISOString();
    const template: Omit<EventEnvelope, 'eventId' | 'streamId' | 'streamVersion' | 'data'> = {
      type,
      schemaVersion: def.schemaVersion,
      tenantId: opts.tenantId,
      occurredAt: opts.occurredAt?.toISOString() ?? recordedAt,
      recordedAt,
      actor: opts.actor,
      correlationId: opts.correlationId,
      causationId: opts.causationId,
    };
    const headers = kafkaHeaders({ ...template, eventId: '', streamId: '', streamVersion: 0, data: null });
    const rows = await sql.query<{ appended: number }>(
      `with input as (
         select * from unnest($1::text[], $2::uuid[], $3::jsonb[]) with ordinality as r(stream_id, event_id, data, n)),
       v as (
         insert into es_streams (stream_id, tenant_id, version, published_version)
         select stream_id, $4, 1, 1 from input order by n
         on conflict (stream_id) do update
           set version = es_streams.version + 1, published_version = es_streams.version + 1, updated_at = now()
           where es_streams.tenant_id = excluded.tenant_id
         returning stream_id, version),
       e as (
         insert into es_events (event_id, stream_id, stream_version, type, schema_version, tenant_id, data, actor,
                                correlation_id, causation_id, occurred_at, recorded_at)
         select i.event_id, i.stream_id, v.version, $5, $6, $4, i.data, $7, $8, $9, $10, $11
           from input i join v using (stream_id)
         returning event_id, stream_id, stream_version, data),
       o as (
         insert into outbox (event_id, topic, message_key, payload, headers)
         select e.event_id, $12, e.stream_id,
                $13::jsonb || jsonb_build_object('eventId', e.event_id, 'streamId', e.stream_id, 'streamVersion', e.stream_version, 'data', e.data),
                $14::jsonb || jsonb_build_object('event-id', e.event_id::text)
           from e
         returning 1)
       select (select count(*)::int from o) as appended, (select pg_notify($15, '')) is null as woken`,
      [
        sorted.map((i) => i.streamId),
        sorted.map(() => randomUUID()),
        sorted.map((i) => JSON.stringify(this.deps.registry.validateForWrite(type, i.data))),
        opts.tenantId,
        type,
        def.schemaVersion,
        opts.actor,
        opts.correlationId,
        opts.causationId,
        template.occurredAt,
        recordedAt,
        def.topic,
        JSON.stringify(template),
        JSON.stringify(headers),
        this.deps.outboxChannel,
      ],
    );
    const appended = rows[0]?.appended ?? 0;
    // A stream id owned by another tenant is skipped by the upsert: refuse the whole batch instead.
    if (appended !== items.length) throw new Error(`${type}: ${items.length - appended} of ${items.length} streams belong to another tenant`);
    return appended;
  }
}
