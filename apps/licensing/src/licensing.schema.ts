import { sqlMigration } from '@mdm/platform/database';

/**
 * Read tables of the licensing service. `users` and `groups` are inline projections of its own
 * streams, written in the transaction that appends the events. `tenants`, `configurations` and
 * `devices` are what it learns from the authority and enrollment events, written in the inbox
 * transaction of the event.
 */
export const LicensingSchema1764300000000 = sqlMigration(
  'LicensingSchema1764300000000',
  [
    // R8 needs the authority, R22 the APNs certificates' notAfter per authority ({ intune?, office365? }).
    `create table tenants (
       tenant_id      uuid primary key,
       name           text,
       authority      text not null default 'unknown',
       apns_not_after jsonb not null default '{}'::jsonb,
       version        bigint not null default 0,
       updated_at     timestamptz not null default now())`,
    // R10: which groups have an Intune configuration assigned.
    `create table configurations (
       configuration_id   uuid primary key,
       tenant_id          uuid not null,
       authority          text not null,
       assigned_group_ids uuid[] not null default '{}',
       deleted            boolean not null default false,
       version            int not null)`,
    `create index configurations_live on configurations (tenant_id, authority) where not deleted`,
    `create table devices (
       device_id   uuid primary key,
       tenant_id   uuid not null,
       user_id     uuid,
       platform    text not null,
       managed_by  text not null,
       active      boolean not null default true,
       enrolled_at timestamptz not null,
       updated_at  timestamptz not null default now())`,
    `create index devices_active on devices (tenant_id, user_id) where active`,
    `create table groups (
       group_id   uuid primary key,
       tenant_id  uuid not null,
       name       text not null,
       created_at timestamptz not null default now())`,
    `create index groups_by_tenant on groups (tenant_id)`,
    `create table users (
       user_id             uuid primary key,
       tenant_id           uuid not null,
       user_principal_name text not null,
       display_name        text,
       group_ids           uuid[] not null default '{}',
       licenses            text[] not null default '{}',
       effective_authority text,
       version             int not null,
       created_at          timestamptz not null default now(),
       updated_at          timestamptz not null default now())`,
    `create unique index users_principal_name on users (tenant_id, lower(user_principal_name))`,
  ],
  ['drop table users', 'drop table groups', 'drop table devices', 'drop table configurations', 'drop table tenants'],
);

/** The console's lists: groups by name, and a group's members counted and listed without scanning the tenant's users. */
export const LicensingDirectoryLists1765100000000 = sqlMigration(
  'LicensingDirectoryLists1765100000000',
  [
    `create index groups_by_name on groups (tenant_id, lower(name), group_id)`,
    `create index users_by_group on users using gin (group_ids)`,
  ],
  ['drop index users_by_group', 'drop index groups_by_name'],
);
