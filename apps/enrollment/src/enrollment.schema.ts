import { sqlMigration } from '@mdm/platform/database';

export const EnrollmentSchema1764300000100 = sqlMigration(
  'EnrollmentSchema1764300000100',
  [
    // What enrollment knows of other contexts, from their events (R12's inputs).
    `create table tenant_facts (
       tenant_id    uuid primary key,
       authority    text not null,
       apns_not_after jsonb not null default '{}',
       consents     text[] not null default '{}')`,
    `create table user_facts (
       user_id      uuid primary key,
       tenant_id    uuid not null,
       licenses     text[] not null default '{}')`,
    // Devices, kept in the same transaction as their events. One active enrollment per serial (R12).
    `create table devices (
       device_id       uuid primary key,
       tenant_id       uuid not null,
       serial_number   text not null,
       platform        text not null,
       user_id         uuid,
       status          text not null,
       certificate_not_after timestamptz not null,
       credential_hash text not null,
       enrolled_at     timestamptz not null)`,
    `create unique index devices_active_serial on devices (tenant_id, serial_number) where status = 'active'`,
    `create index devices_certificate_expiry on devices (certificate_not_after) where status = 'active'`,
    // The certification authority that issues MDM certificates (R13), created once.
    `create table certificate_authority (
       id          boolean primary key default true check (id),
       certificate_pem text not null,
       private_key_pkcs8 text not null,
       created_at  timestamptz not null default now())`,
  ],
  ['drop table certificate_authority', 'drop table devices', 'drop table user_facts', 'drop table tenant_facts'],
);
