import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import {
  ApnsCertificateUploaded,
  AuthorityChanged,
  ConfigurationCreated,
  ConfigurationDeleted,
  ConfigurationUpdated,
  ManagingAuthority,
  TenantCreated,
} from '@mdm/contracts/authority';
import { EventEnvelope, TypedEnvelope } from '@mdm/contracts/core';
import { Sql } from '@mdm/platform/database';
import { InboxContext } from '@mdm/platform/inbox';
import { UsersService } from './users.service';

/**
 * Applies one event of the tenant's stream to its row, unless a later one already was (stream
 * versions only grow); false when the event was stale. Creates the row if TenantCreated never came.
 */
async function applyTenantEvent(sql: Sql, e: EventEnvelope, assignment: string, params: unknown[]): Promise<boolean> {
  await sql.query('insert into tenants (tenant_id) values ($1) on conflict (tenant_id) do nothing', [e.tenantId]);
  const updated = await sql.query(
    `update tenants set ${assignment}, version = $2, updated_at = now() where tenant_id = $1 and version < $2 returning 1`,
    [e.tenantId, e.streamVersion, ...params],
  );
  return updated.length > 0;
}

/** What licensing keeps of the authority context: the tenant's authority, its APNs certificates and its configurations. */
@Controller()
export class AuthorityEventsConsumer {
  constructor(private readonly users: UsersService) {}

  @EventPattern('TenantCreated')
  async tenantCreated(@Payload() e: TypedEnvelope<typeof TenantCreated>, @Ctx() { sql }: InboxContext) {
    await applyTenantEvent(sql, e, 'name = $3', [e.data.name]);
  }

  /** R8/R9: every user whose effective authority moves under the new authority gets UserAuthorityChanged. */
  @EventPattern('AuthorityChanged')
  async authorityChanged(@Payload() e: TypedEnvelope<typeof AuthorityChanged>, @Ctx() { sql }: InboxContext) {
    if (await applyTenantEvent(sql, e, 'authority = $3', [e.data.to])) await this.users.recomputeTenant(sql, e.tenantId, e.actor);
  }

  /** R22: the preview counts Apple devices whose new authority has no unexpired certificate. */
  @EventPattern('ApnsCertificateUploaded')
  async apnsCertificateUploaded(@Payload() e: TypedEnvelope<typeof ApnsCertificateUploaded>, @Ctx() { sql }: InboxContext) {
    await applyTenantEvent(sql, e, 'apns_not_after = tenants.apns_not_after || jsonb_build_object($3::text, $4::text)', [
      e.data.authority,
      e.data.notAfter,
    ]);
  }

  /** R10: which groups have an Intune configuration assigned. */
  @EventPattern('ConfigurationCreated')
  async configurationCreated(@Payload() e: TypedEnvelope<typeof ConfigurationCreated>, @Ctx() { sql }: InboxContext) {
    await upsertConfiguration(sql, e.tenantId, e.data, false);
  }

  @EventPattern('ConfigurationUpdated')
  async configurationUpdated(@Payload() e: TypedEnvelope<typeof ConfigurationUpdated>, @Ctx() { sql }: InboxContext) {
    await upsertConfiguration(sql, e.tenantId, e.data, false);
  }

  @EventPattern('ConfigurationDeleted')
  async configurationDeleted(
    @Payload() e: TypedEnvelope<typeof ConfigurationDeleted>,
    @Ctx() { sql }: InboxContext,
  ) {
    await upsertConfiguration(sql, e.tenantId, { ...e.data, assignedGroupIds: [] }, true);
  }
}

/** Configuration events carry their version: an older one than the row's is ignored. */
function upsertConfiguration(
  sql: Sql,
  tenantId: string,
  c: { configurationId: string; authority: ManagingAuthority; assignedGroupIds: string[]; version: number },
  deleted: boolean,
) {
  return sql.query(
    `insert into configurations (configuration_id, tenant_id, authority, assigned_group_ids, deleted, version)
     values ($1, $2, $3, $4::uuid[], $5, $6)
     on conflict (configuration_id) do update
       set authority = excluded.authority, assigned_group_ids = excluded.assigned_group_ids,
           deleted = excluded.deleted, version = excluded.version
     where configurations.version < excluded.version`,
    [c.configurationId, tenantId, c.authority, c.assignedGroupIds, deleted, c.version],
  );
}
