import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import {
  ApnsCertificateUploaded,
  AuthorityChanged,
  CoManagementChanged,
  ConfigurationCreated,
  ConfigurationDeleted,
  ConfigurationUpdated,
  TenantCreated,
} from '@mdm/contracts/authority';
import { EventData, EventEnvelope, TypedEnvelope } from '@mdm/contracts/core';
import { DeviceEnrolled, DeviceRemoved, DeviceUnenrolled } from '@mdm/contracts/enrollment';
import { LicenseAssigned, LicenseRemoved, UserAuthorityChanged, UserCreated, UserGroupsChanged } from '@mdm/contracts/licensing';
import { deviceRowsTouched } from '@mdm/device-sync/domain';
import { Sql } from '@mdm/platform/database';
import { SERVICE_CONFIG } from '@mdm/platform/http';
import { BeforeEvents, EventBatch, InboxContext } from '@mdm/platform/inbox';
import { DeviceSyncConfig } from './device-sync.definition';
import { notificationChannel } from './notifications/channels';
import { revokedPayload } from './notifications/long-poll-hub';
import { FanOutPort } from './ports';

type Configuration = EventData<typeof ConfigurationCreated>;

/** After a `c` of changed configurations: the tenant's assignments version moves (its row made if its events come later). */
const bumpAssignments = `insert into tenants (tenant_id, assignments_version) select distinct tenant_id, 1 from c
  on conflict (tenant_id) do update set assignments_version = tenants.assignments_version + 1`;

/**
 * What device-sync keeps of the other contexts, from their events, in the inbox transaction. Events
 * of one stream arrive in order (one key, one partition), so each handler simply applies its event.
 */
@Controller()
export class FactsConsumer {
  private readonly checkInIntervalMs: number;
  private readonly channel: string;

  constructor(
    private readonly fanOut: FanOutPort,
    @Inject(SERVICE_CONFIG) config: Pick<DeviceSyncConfig, 'CHECK_IN_INTERVAL_HOURS' | 'schema'>,
  ) {
    this.checkInIntervalMs = config.CHECK_IN_INTERVAL_HOURS * 3600_000;
    this.channel = notificationChannel(config.schema);
  }

  /**
   * The device rows this transaction's events update (deviceRowsTouched), locked first, in one
   * statement and in id order, as a check-in batch locks its devices (CheckInFacts). Taken by each
   * handler in turn, a transaction holding one tenant's devices could wait for a check-in batch
   * holding a lower id of the next tenant's while the batch waits for it: a deadlock Postgres breaks
   * after its deadlock_timeout, undoing one side. A device committed by another transaction after
   * this lock (an enrollment applied beside it) is locked by the UPDATE that marks it, out of order;
   * should that ever deadlock, the transaction runs again whole (GroupCommit).
   */
  @BeforeEvents()
  async lockDevices(@Payload() events: EventEnvelope[], @Ctx() { sql }: InboxContext) {
    const { tenants, users, devices } = deviceRowsTouched(events);
    // One row alone cannot be taken out of order.
    if (tenants.length + users.length === 0 && devices.length <= 1) return;
    // Only the conditions these events need, OR-ed in one scan (each has its index): a tenant's
    // change alone is the plain indexed lock of its devices.
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    const conditions = [
      ...(tenants.length > 0 ? [`(status = 'active' and tenant_id = any(${param(tenants)}::uuid[]))`] : []),
      // A user is of one tenant: the pairs' tenants and users together name exactly their devices.
      ...(users.length > 0
        ? [`(status = 'active' and tenant_id = any(${param(users.map((u) => u.tenantId))}::uuid[]) and user_id = any(${param(users.map((u) => u.userId))}::uuid[]))`]
        : []),
      ...(devices.length > 0 ? [`device_id = any(${param(devices)}::uuid[])`] : []),
    ];
    await sql.query(`select 1 from devices where ${conditions.join(' or ')} order by device_id for update`, params);
  }

  @EventPattern('TenantCreated')
  async tenantCreated(@Payload() e: TypedEnvelope<typeof TenantCreated>, @Ctx() { sql }: InboxContext) {
    await sql.query('insert into tenants (tenant_id) values ($1) on conflict do nothing', [e.tenantId]);
  }

  /** R16: every device of the tenant with a user is told to check in. */
  @EventPattern('AuthorityChanged')
  async authorityChanged(@Payload() e: TypedEnvelope<typeof AuthorityChanged>, @Ctx() { sql }: InboxContext) {
    await sql.query('update tenants set authority = $2, authority_event_id = $3 where tenant_id = $1', [e.tenantId, e.data.to, e.eventId]);
    await this.fanOut.tenantChanged(sql, e);
  }

  @EventPattern('CoManagementChanged')
  async coManagementChanged(@Payload() e: TypedEnvelope<typeof CoManagementChanged>, @Ctx() { sql }: InboxContext) {
    await sql.query('update tenants set co_management = $2 where tenant_id = $1', [
      e.tenantId,
      JSON.stringify({ enabled: e.data.enabled, workloads: e.data.workloads }),
    ]);
  }

  @EventPattern('ApnsCertificateUploaded')
  async apns(@Payload() e: TypedEnvelope<typeof ApnsCertificateUploaded>, @Ctx() { sql }: InboxContext) {
    await sql.query(`update tenants set apns_not_after = apns_not_after || jsonb_build_object($2::text, $3::text) where tenant_id = $1`, [
      e.tenantId,
      e.data.authority,
      e.data.notAfter,
    ]);
  }

  @EventPattern('ConfigurationCreated')
  async configurationCreated(@Payload() e: TypedEnvelope<typeof ConfigurationCreated>, @Ctx() { sql }: InboxContext) {
    await upsertConfiguration(sql, e.tenantId, e.data);
  }

  @EventPattern('ConfigurationUpdated')
  async configurationUpdated(@Payload() e: TypedEnvelope<typeof ConfigurationUpdated>, @Ctx() { sql }: InboxContext) {
    await upsertConfiguration(sql, e.tenantId, e.data);
  }

  @EventPattern('ConfigurationDeleted')
  async configurationDeleted(@Payload() e: TypedEnvelope<typeof ConfigurationDeleted>, @Ctx() { sql }: InboxContext) {
    await sql.query(
      `with c as (update configurations set deleted = true, version = $2 where configuration_id = $1 returning tenant_id)
     ${bumpAssignments}`,
      [e.data.configurationId, e.data.version],
    );
  }

  @EventPattern('UserCreated')
  async userCreated(@Payload() e: TypedEnvelope<typeof UserCreated>, @Ctx() { sql }: InboxContext) {
    await sql.query('insert into users (user_id, tenant_id, group_ids) values ($1, $2, $3) on conflict do nothing', [
      e.data.userId,
      e.tenantId,
      e.data.groupIds,
    ]);
  }

  @EventPattern('UserGroupsChanged')
  async userGroupsChanged(@Payload() e: TypedEnvelope<typeof UserGroupsChanged>, @Ctx() { sql }: InboxContext) {
    await sql.query('update users set group_ids = $2, group_version = group_version + 1 where user_id = $1', [e.data.userId, e.data.groupIds]);
  }

  @EventPattern('LicenseAssigned')
  async licenseAssigned(@Payload() e: TypedEnvelope<typeof LicenseAssigned>, @Ctx() { sql }: InboxContext) {
    await sql.query('update users set licenses = array_append(array_remove(licenses, $2), $2) where user_id = $1', [e.data.userId, e.data.sku]);
  }

  @EventPattern('LicenseRemoved')
  async licenseRemoved(@Payload() e: TypedEnvelope<typeof LicenseRemoved>, @Ctx() { sql }: InboxContext) {
    await sql.query('update users set licenses = array_remove(licenses, $2) where user_id = $1', [e.data.userId, e.data.sku]);
  }

  /**
   * R9 → R16: all the users' devices are told to check in. A tenant's authority change moves every
   * user at once, and device calls wait until their users' changes are applied: a burst is a few statements.
   */
  @EventBatch('UserAuthorityChanged')
  async userAuthoritiesChanged(@Payload() events: TypedEnvelope<typeof UserAuthorityChanged>[], @Ctx() { sql }: InboxContext) {
    await this.fanOut.usersChanged(sql, events);
  }

  /** A burst of enrollments is one statement. */
  @EventBatch('DeviceEnrolled')
  async devicesEnrolled(@Payload() events: TypedEnvelope<typeof DeviceEnrolled>[], @Ctx() { sql }: InboxContext) {
    await sql.query(
      `insert into devices (device_id, tenant_id, user_id, platform, credential_hash, status, managed_by,
                            certificate_serial, certificate_not_after, next_check_in_at, push_token)
       select device_id, tenant_id, user_id, platform, credential_hash, 'active', managed_by, certificate_serial, certificate_not_after,
              next_check_in_at, push_token
         from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[],
                     $9::timestamptz[], $10::text[])
              as d(device_id, tenant_id, user_id, platform, credential_hash, managed_by, certificate_serial, certificate_not_after,
                   next_check_in_at, push_token)
       on conflict do nothing`,
      [
        events.map((e) => e.data.deviceId),
        events.map((e) => e.tenantId),
        events.map((e) => e.data.userId),
        events.map((e) => e.data.platform),
        events.map((e) => e.data.credentialHash),
        events.map((e) => e.data.managedBy),
        events.map((e) => e.data.mdmCertificate.serial),
        events.map((e) => e.data.mdmCertificate.notAfter),
        // R18: the schedule starts at enrollment.
        events.map((e) => new Date(Date.parse(e.occurredAt) + this.checkInIntervalMs)),
        // R16: the push token the device gave at enrollment.
        events.map((e) => e.data.pushToken),
      ],
    );
  }

  @EventPattern('DeviceUnenrolled')
  async deviceUnenrolled(@Payload() e: TypedEnvelope<typeof DeviceUnenrolled>, @Ctx() { sql }: InboxContext) {
    await this.retire(sql, e, 'unenrolled');
  }

  @EventPattern('DeviceRemoved')
  async deviceRemoved(@Payload() e: TypedEnvelope<typeof DeviceRemoved>, @Ctx() { sql }: InboxContext) {
    await this.retire(sql, e, 'removed');
  }

  /** R14/R15: the device's credential stops working, and its polls waiting on any replica end (at commit). */
  private async retire(sql: Sql, e: TypedEnvelope<typeof DeviceUnenrolled | typeof DeviceRemoved>, status: 'unenrolled' | 'removed') {
    await sql.query(`update devices set status = $2 where device_id = $1`, [e.data.deviceId, status]);
    await sql.query('select pg_notify($1, $2)', [this.channel, revokedPayload(e.tenantId, e.data.deviceId)]);
  }
}

/** A configuration and the tenant's assignments version (a check-in re-reads its configurations only when that moved). */
function upsertConfiguration(sql: Sql, tenantId: string, c: Configuration) {
  return sql.query(
    `with c as (
       insert into configurations (configuration_id, tenant_id, authority, name, type, platforms, settings, assigned_group_ids, version)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       on conflict (configuration_id) do update set name = excluded.name, type = excluded.type, platforms = excluded.platforms,
         settings = excluded.settings, assigned_group_ids = excluded.assigned_group_ids, version = excluded.version, deleted = false
       returning tenant_id)
     ${bumpAssignments}`,
    [c.configurationId, tenantId, c.authority, c.name, c.type, c.platforms, JSON.stringify(c.settings), c.assignedGroupIds, c.version],
  );
}
