import { Controller, Injectable } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { ApnsCertificateUploaded, AuthorityChanged, ConsentGranted, TenantAuthority, TenantCreated } from '@mdm/contracts/authority';
import { TypedEnvelope } from '@mdm/contracts/core';
import { MdmCertificateRenewed } from '@mdm/contracts/device-sync';
import { LicenseAssigned, LicenseRemoved, UserCreated } from '@mdm/contracts/licensing';
import { TenantFacts, UserFacts } from '@mdm/enrollment/domain';
import { Database, Sql } from '@mdm/platform/database';
import { InboxContext } from '@mdm/platform/inbox';

/** Keeps what R12 needs of the authority and licensing contexts, from their events. */
@Controller()
export class FactsConsumer {
  @EventPattern('TenantCreated')
  async tenantCreated(@Payload() e: TypedEnvelope<typeof TenantCreated>, @Ctx() { sql }: InboxContext) {
    await sql.query(`insert into tenant_facts (tenant_id, authority) values ($1, 'unknown') on conflict do nothing`, [e.tenantId]);
  }

  @EventPattern('AuthorityChanged')
  async authorityChanged(@Payload() e: TypedEnvelope<typeof AuthorityChanged>, @Ctx() { sql }: InboxContext) {
    await updateTenant(sql, e.tenantId, 'authority = $2', [e.data.to]);
  }

  @EventPattern('ApnsCertificateUploaded')
  async apns(@Payload() e: TypedEnvelope<typeof ApnsCertificateUploaded>, @Ctx() { sql }: InboxContext) {
    await updateTenant(sql, e.tenantId, 'apns_not_after = tenant_facts.apns_not_after || jsonb_build_object($2::text, $3::text)', [
      e.data.authority,
      e.data.notAfter,
    ]);
  }

  @EventPattern('ConsentGranted')
  async consent(@Payload() e: TypedEnvelope<typeof ConsentGranted>, @Ctx() { sql }: InboxContext) {
    await updateTenant(sql, e.tenantId, 'consents = array(select distinct unnest(tenant_facts.consents || $2::text))', [e.data.kind]);
  }

  @EventPattern('UserCreated')
  async userCreated(@Payload() e: TypedEnvelope<typeof UserCreated>, @Ctx() { sql }: InboxContext) {
    await sql.query('insert into user_facts (user_id, tenant_id) values ($1, $2) on conflict do nothing', [e.data.userId, e.tenantId]);
  }

  // A user's events share one stream, so they arrive in order: UserCreated has made the row.
  @EventPattern('LicenseAssigned')
  async licenseAssigned(@Payload() e: TypedEnvelope<typeof LicenseAssigned>, @Ctx() { sql }: InboxContext) {
    await sql.query('update user_facts set licenses = array_append(array_remove(licenses, $2), $2) where user_id = $1', [
      e.data.userId,
      e.data.sku,
    ]);
  }

  @EventPattern('LicenseRemoved')
  async licenseRemoved(@Payload() e: TypedEnvelope<typeof LicenseRemoved>, @Ctx() { sql }: InboxContext) {
    await sql.query('update user_facts set licenses = array_remove(licenses, $2) where user_id = $1', [e.data.userId, e.data.sku]);
  }
}

/** A tenant's events share one stream, so they arrive in order: TenantCreated has made the row. */
function updateTenant(sql: Sql, tenantId: string, assignment: string, params: unknown[]) {
  return sql.query(`update tenant_facts set ${assignment} where tenant_id = $1`, [tenantId, ...params]);
}

/** R15: device-sync renews certificates at check-in; the removal sweep counts from the new expiry. */
@Controller()
export class RenewalConsumer {
  @EventPattern('MdmCertificateRenewed')
  async renewed(@Payload() e: TypedEnvelope<typeof MdmCertificateRenewed>, @Ctx() { sql }: InboxContext) {
    await sql.query('update devices set certificate_not_after = greatest(certificate_not_after, $2) where device_id = $1', [
      e.data.deviceId,
      e.data.notAfter,
    ]);
  }
}

export interface EnrollmentFacts {
  tenant: TenantFacts | undefined;
  user: UserFacts | undefined;
  serialActive: boolean;
}

@Injectable()
export class Facts {
  constructor(private readonly db: Database) {}

  /**
   * What each enrollment of a batch decides on (R12), in one statement, in the order asked: the
   * tenant, the user (of this tenant), and whether the serial is enrolled already (R14).
   */
  async forEnrollments(asked: { tenantId: string; userId: string | null; serialNumber: string }[]): Promise<EnrollmentFacts[]> {
    if (asked.length === 0) return [];
    type TenantRow = { authority: TenantAuthority; apns_not_after: Record<string, string>; consents: TenantFacts['consents'] };
    const rows = await this.db.query<{ tenant: TenantRow | null; user: UserFacts | null; serial_active: boolean }>(
      `select (select row_to_json(t) from (select authority, apns_not_after, consents from tenant_facts where tenant_id = r.tenant_id) t) as tenant,
              (select row_to_json(u) from (select licenses from user_facts where user_id = r.user_id and tenant_id = r.tenant_id) u) as "user",
              exists (select 1 from devices where tenant_id = r.tenant_id and serial_number = r.serial_number and status = 'active') as serial_active
         from unnest($1::uuid[], $2::uuid[], $3::text[]) with ordinality as r(tenant_id, user_id, serial_number, n)
        order by r.n`,
      [asked.map((a) => a.tenantId), asked.map((a) => a.userId), asked.map((a) => a.serialNumber)],
    );
    return rows.map(({ tenant, user, serial_active }) => ({
      tenant: tenant ? { authority: tenant.authority, apnsNotAfter: tenant.apns_not_after, consents: tenant.consents } : undefined,
      user: user ?? undefined,
      serialActive: serial_active,
    }));
  }
}
