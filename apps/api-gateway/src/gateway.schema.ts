import { sqlMigration } from '@mdm/platform/database';

export const GatewaySchema1764200000100 = sqlMigration(
  'GatewaySchema1764200000100',
  [
    // The token lookup, kept in the same transaction as the TokenIssued / TokenRevoked events.
    `create table access_tokens (
       token_id   uuid primary key,
       tenant_id  uuid not null,
       role       text not null,
       token_hash text not null unique,
       created_at timestamptz not null,
       revoked_at timestamptz)`,
    `create table audit_log (
       id             bigint generated always as identity primary key,
       tenant_id      uuid not null,
       at             timestamptz not null,
       actor          text not null,
       action         text not null,
       target         text not null,
       outcome        text not null,
       status         int not null,
       correlation_id text not null)`,
    `create index audit_log_by_tenant on audit_log (tenant_id, id desc)`,
  ],
  ['drop table audit_log', 'drop table access_tokens'],
);
