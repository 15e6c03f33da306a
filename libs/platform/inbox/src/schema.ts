import { sqlMigration } from '@mdm/platform/database';

/** Ids of the events a consumer group has applied, written in the same transaction as their effects. */
export const InboxSchema1764200000001 = sqlMigration(
  'InboxSchema1764200000001',
  [
    `create table inbox (
       consumer        text not null,
       event_id        uuid not null,
       topic           text not null,
       kafka_partition int not null,
       kafka_offset    bigint not null,
       received_at     timestamptz not null default now(),
       primary key (consumer, event_id))`,
    // How far this service has applied each stream of other services: read-your-writes waits on it.
    `create table consumed_streams (
       stream_id  text primary key,
       tenant_id  uuid not null,
       version    bigint not null,
       updated_at timestamptz not null default now())`,
    `create index consumed_streams_by_tenant on consumed_streams (tenant_id)`,
  ],
  ['drop table consumed_streams', 'drop table inbox'],
);

/** The inbox forgets ids after a while (see InboxConsumer's pruning): by time of receipt. */
export const InboxPruning1764600000000 = sqlMigration(
  'InboxPruning1764600000000',
  ['create index inbox_received on inbox (received_at)'],
  ['drop index inbox_received'],
);

/** The inbox's tables, in order. */
export const inboxMigrations = [InboxSchema1764200000001, InboxPruning1764600000000];
