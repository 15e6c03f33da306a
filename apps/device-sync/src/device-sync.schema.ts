import { sqlMigration } from '@mdm/platform/database';

/**
 * What device-sync learns from the other contexts (tenants, configurations, users: written in the
 * inbox transaction of their events) and its own state of each device, its notifications and its
 * remote actions (written in the transaction that appends device-sync's events).
 */
export const DeviceSyncSchema1764400000000 = sqlMigration(
  'DeviceSyncSchema1764400000000',
  [
    `create table tenants (
       tenant_id      uuid primary key,
       authority      text not null default 'unknown',
       apns_not_after jsonb not null default '{}'::jsonb,
       co_management  jsonb not null default '{"enabled": false, "workloads": {}}'::jsonb)`,
    `create table configurations (
       configuration_id   uuid primary key,
       tenant_id          uuid not null,
       authority          text not null,
       name               text not null,
       type               text not null,
       platforms          text[] not null,
       settings           jsonb not null,
       assigned_group_ids uuid[] not null,
       version            int not null,
       deleted            boolean not null default false)`,
    `create index configurations_live on configurations (tenant_id, authority) where not deleted`,
    `create table users (
       user_id   uuid primary key,
       tenant_id uuid not null,
       licenses  text[] not null default '{}',
       group_ids uuid[] not null default '{}')`,
    `create table devices (
       device_id             uuid primary key,
       tenant_id             uuid not null,
       user_id               uuid,
       platform              text not null,
       credential_hash       text not null unique,
       status                text not null,
       managed_by            text not null,
       migration_state       text not null default 'none',
       migration_changed_at  timestamptz,
       installed             jsonb not null default '[]'::jsonb,
       redundant             jsonb not null default '[]'::jsonb,
       compliance            jsonb not null default '{"state": "notEvaluated", "reasons": []}'::jsonb,
       last_check_in_at      timestamptz,
       next_check_in_at      timestamptz,
       certificate_serial    text not null,
       certificate_not_after timestamptz not null)`,
    `create index devices_by_tenant on devices (tenant_id, user_id) where status = 'active'`,
    // R23: devices told to move that have not checked in yet, by when they were told.
    `create index devices_awaiting_check_in on devices (migration_changed_at) where migration_state in ('pendingCheckIn', 'blockedApns')`,
    `create table notifications (
       notification_id uuid primary key,
       device_id       uuid not null,
       tenant_id       uuid not null,
       reason          text not null,
       created_at      timestamptz not null,
       delivered_at    timestamptz)`,
    `create index notifications_undelivered on notifications (device_id, created_at) where delivered_at is null`,
    `create table actions (
       command_id uuid primary key,
       seq        bigint generated always as identity, -- queue order: the test clock may stamp many alike
       device_id  uuid not null,
       tenant_id  uuid not null,
       type       text not null,
       status     text not null,
       error      text,
       created_at timestamptz not null,
       updated_at timestamptz not null)`,
    `create index actions_pending on actions (device_id, seq) where status = 'pending'`,
  ],
  ['drop table actions', 'drop table notifications', 'drop table devices', 'drop table users', 'drop table configurations', 'drop table tenants'],
);

/**
 * R23: when a device's old-authority profiles are due to expire, set when it is told to move and
 * cleared by its check-in or by the sweep. A device told to check in that does not change authority
 * (its user's effective authority is the one it has) leaves the sweep's queue with nothing expired.
 */
export const DeviceLegacyDue1764800000000 = sqlMigration(
  'DeviceLegacyDue1764800000000',
  [
    `alter table devices add column legacy_due_at timestamptz`,
    `update devices set legacy_due_at = migration_changed_at + interval '7 days'
      where status = 'active' and migration_state in ('pendingCheckIn', 'blockedApns')`,
    `drop index devices_awaiting_check_in`,
    `create index devices_legacy_due on devices (legacy_due_at) where legacy_due_at is not null`,
  ],
  [
    `drop index devices_legacy_due`,
    `create index devices_awaiting_check_in on devices (migration_changed_at) where migration_state in ('pendingCheckIn', 'blockedApns')`,
    `alter table devices drop column legacy_due_at`,
  ],
);

/**
 * R16: each device's push token (from enrollment or a later check-in; cleared when its provider says
 * it is dead), and which notifications the push dispatcher has taken (at most one push each).
 */
export const DevicePushTokens1765000000000 = sqlMigration(
  'DevicePushTokens1765000000000',
  [`alter table devices add column push_token text`, `alter table notifications add column pushed_at timestamptz`],
  [`alter table notifications drop column pushed_at`, `alter table devices drop column push_token`],
);

/**
 * Check-ins decide on what changed (R20, R21, R25): a version of each tenant's configurations and of
 * each user's groups, and per device the key of the assignment it was last given with the compliance
 * policies that came with it. A device with no key yet gets its configurations read at its next check-in.
 */
export const DeviceAssignments1765100000000 = sqlMigration(
  'DeviceAssignments1765100000000',
  [
    `alter table tenants add column assignments_version bigint not null default 0`,
    `alter table users add column group_version bigint not null default 0`,
    `alter table devices add column assignment_key text`,
    `alter table devices add column policies jsonb not null default '[]'::jsonb`,
  ],
  [
    `alter table devices drop column policies`,
    `alter table devices drop column assignment_key`,
    `alter table users drop column group_version`,
    `alter table tenants drop column assignments_version`,
  ],
);

/**
 * R20/R21: each device's configuration lists as its check-in answer gives them, as JSON text, written
 * with the lists whenever they change: a check-in that leaves them as they are answers them from
 * here, without reading, planning or serialising its lists again. Null until the next such write.
 */
export const DeviceAnswerLists1765200000000 = sqlMigration(
  'DeviceAnswerLists1765200000000',
  [`alter table devices add column answer_lists text`],
  [`alter table devices drop column answer_lists`],
);

/**
 * R9/R16: the tenant's latest AuthorityChanged applied here. Licensing answers a tenant's change with
 * a UserAuthorityChanged for every user who moves (caused by that change); when it is the change
 * whose fan-out already told this tenant's devices to check in, it asks nothing more of them.
 */
export const DeviceTenantAuthorityEvent1765300000000 = sqlMigration(
  'DeviceTenantAuthorityEvent1765300000000',
  [`alter table tenants add column authority_event_id uuid`],
  [`alter table tenants drop column authority_event_id`],
);
