import { sqlMigration } from '@mdm/platform/database';

/**
 * Streams, events and the outbox live in the service's own schema. The outbox is written in the
 * same transaction as the events it publishes (transactional outbox).
 */
export const EventStoreSchema1764200000000 = sqlMigration(
  'EventStoreSchema1764200000000',
  [
    `create table es_streams (
       stream_id   text primary key,
       tenant_id   uuid not null,
       version     bigint not null,
       -- the version of the stream's newest event that goes out through the outbox (read-your-writes)
       published_version bigint not null default 0,
       updated_at  timestamptz not null default now())`,
    `create index es_streams_by_tenant on es_streams (tenant_id, stream_id)`,
    `create table es_events (
       global_position bigint generated always as identity primary key,
       transaction_id  xid8 not null default pg_current_xact_id(),
       event_id        uuid not null unique,
       stream_id       text not null,
       stream_version  bigint not null,
       type            text not null,
       schema_version  int not null,
       tenant_id       uuid not null,
       data            jsonb not null,
       actor           text not null,
       correlation_id  text not null,
       causation_id    text,
       occurred_at     timestamptz not null,
       recorded_at     timestamptz not null,
       unique (stream_id, stream_version))`,
    // readAll walks (transaction_id, global_position): see readAll for why.
    `create index es_events_commit_order on es_events (transaction_id, global_position)`,
    `create table outbox (
       position     bigint generated always as identity primary key,
       event_id     uuid not null,
       topic        text not null,
       message_key  text not null,
       payload      jsonb not null,
       headers      jsonb not null,
       created_at   timestamptz not null default now(),
       published_at timestamptz)`,
    `create index outbox_pending on outbox (position) where published_at is null`,
  ],
  ['drop table outbox', 'drop table es_events', 'drop table es_streams'],
);

/** The NOTIFY channel that wakes a schema's outbox relay when events are appended. */
export const outboxChannel = (schema: string) => `${schema}_outbox`;
