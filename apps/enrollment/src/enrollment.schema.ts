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

/**
 * R13: the CA's key is kept encrypted (the service seals a key left in the clear at start-up, as
 * only it has the key-encryption key), and each device's public key, which a renewal without a
 * CSR certifies again, and whether the device made it (R15: then its renewal needs a CSR).
 */
export const EnrollmentDeviceKeys1765100000000 = sqlMigration(
  'EnrollmentDeviceKeys1765100000000',
  [
    `alter table certificate_authority add column private_key_encrypted text, alter column private_key_pkcs8 drop not null`,
    `alter table certificate_authority add constraint certificate_authority_key check (private_key_pkcs8 is not null or private_key_encrypted is not null)`,
    `alter table devices add column public_key bytea, add column own_key boolean not null default false`,
  ],
  [
    'alter table devices drop column public_key, drop column own_key',
    'alter table certificate_authority drop constraint certificate_authority_key',
    'alter table certificate_authority drop column private_key_encrypted',
  ],
);
