import { Inject, Injectable, Optional } from '@nestjs/common';
import { ManagingAuthority, TenantAuthority } from '@mdm/contracts/authority';
import { EventEnvelope } from '@mdm/contracts/core';
import { FAN_OUT_CHUNK, fanOutStreamId, syncStreamId } from '@mdm/contracts/device-sync';
import { LEGACY_PROFILE_DAYS } from '@mdm/device-sync/domain';
import { effectiveAuthority } from '@mdm/contracts/licensing';
import { Sql } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { AuthorityFrom, FanOutPort, NotificationReason, NotifierPort } from '../ports';

/** Optional: devices per notification insert / per event append (tests make it small). */
export const FAN_OUT_BATCH_SIZE = Symbol('FAN_OUT_BATCH_SIZE');

type Change = EventEnvelope<{ from: AuthorityFrom; to: AuthorityFrom }>;
type FanOutReason = 'authorityChanged' | 'userAuthorityChanged';
type UserChange = EventEnvelope<{ userId: string; from: AuthorityFrom; to: AuthorityFrom }>;

/** 100,000 devices are 20 statements of 5,000: few round trips, and no statement grows without bound. */
const BATCH = 5000;

/**
 * R16/R17 in bulk: one authority change in, one notification per affected device out, in a handful
 * of set-based statements inside the inbox transaction (so a redelivered change is a no-op and a
 * failed one leaves no half fan-out). The outcome is recorded as one CheckInFanOut event.
 */
@Injectable()
export class CheckInFanOutService extends FanOutPort {
  private readonly batchSize: number;

  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(NotifierPort) private readonly notifier: NotifierPort,
    @Optional() @Inject(FAN_OUT_BATCH_SIZE) batchSize?: number,
  ) {
    super();
    this.batchSize = batchSize ?? BATCH;
  }

  async tenantChanged(sql: Sql, event: Change): Promise<void> {
    const { from, to } = event.data;
    if (from === to) return;
    const at = new Date(event.occurredAt);
    // R16: every active device with a user; R17: the userless ones stay where they are, flagged.
    const notify = await this.markPending(sql, event.tenantId, null, at);
    await this.notifyInBatches(sql, event.tenantId, notify, 'authorityChanged');
    const blocked = await sql.query<{ device_id: string }>(
      `update devices set migration_state = 'needsSupport', migration_changed_at = $2
        where tenant_id = $1 and user_id is null and status = 'active'
        returning device_id`,
      [event.tenantId, at],
    );
    for (const batch of chunks(blocked, this.batchSize)) {
      await this.store.appendToEach(
        'DeviceMigrationBlocked',
        batch.map((d) => ({ streamId: syncStreamId(d.device_id), data: { deviceId: d.device_id, reason: 'userless', authority: null } })),
        { tenantId: event.tenantId, actor: event.actor, correlationId: event.correlationId, causationId: event.eventId, occurredAt: at },
        sql,
      );
    }
    await this.record(sql, event, notify, { reason: 'authorityChanged', userId: null, devicesNeedingSupport: blocked.length });
  }

  /**
   * R9 → R16: every active device of the user. When the change is licensing's answer to the tenant's
   * authority change whose fan-out ran here (its cause is the tenant's latest AuthorityChanged), that
   * fan-out has told the user's devices already, and any check-in decided since was decided on the
   * same tenant authority and licenses: a device waiting for its check-in, or already managed by the
   * user's new authority, is not told (nor marked) twice. Only the others are: one enrolled under the
   * old authority whose enrollment arrived after the fan-out, one whose check-in was blocked.
   */
  async userChanged(sql: Sql, event: UserChange): Promise<void> {
    const { userId, from, to } = event.data;
    if (from === to) return;
    const [tenant] = await sql.query<{ caused: boolean }>('select authority_event_id = $2 as caused from tenants where tenant_id = $1', [
      event.tenantId,
      event.causationId,
    ]);
    const unsettledOnly = tenant?.caused === true ? { target: to } : undefined;
    const notify = await this.markPending(sql, event.tenantId, userId, new Date(event.occurredAt), unsettledOnly);
    await this.notifyInBatches(sql, event.tenantId, notify, 'userAuthorityChanged');
    await this.record(sql, event, notify, { reason: 'userAuthorityChanged', userId, devicesNeedingSupport: 0 });
  }

  /**
   * One UPDATE for all the devices with a user (or of one user), however many: their ids come back
   * for the notifications. `unsettledOnly`: not those waiting for a check-in, nor those managed by the target already.
   */
  private async markPending(sql: Sql, tenantId: string, userId: string | null, at: Date, unsettledOnly?: { target: AuthorityFrom }): Promise<string[]> {
    const rows = await sql.query<{ device_id: string }>(
      `update devices set migration_state = 'pendingCheckIn', migration_changed_at = $2::timestamptz, legacy_due_at = $2::timestamptz + make_interval(days => $4)
        where tenant_id = $1 and status = 'active' and user_id is not null and ($3::uuid is null or user_id = $3::uuid)
          and (not $5 or (migration_state <> 'pendingCheckIn' and managed_by is distinct from coalesce($6, managed_by)))
        returning device_id`,
      [tenantId, at, userId, LEGACY_PROFILE_DAYS, unsettledOnly !== undefined, unsettledOnly?.target ?? null],
    );
    return rows.map((r) => r.device_id);
  }

  private async notifyInBatches(sql: Sql, tenantId: string, deviceIds: string[], reason: NotificationReason): Promise<void> {
    for (const batch of chunks(deviceIds, this.batchSize)) {
      await this.notifier.notify(sql, batch.map((deviceId) => ({ deviceId, tenantId })), reason);
    }
  }

  /**
   * The fan-out's events, in one append: which devices were marked (CheckInsRequested, FAN_OUT_CHUNK
   * devices each, with each device's own stream version) and the outcome (CheckInFanOut). The versions
   * are read after the UPDATE that marked the devices: it holds their row locks, and a check-in appends
   * only under that lock, so this statement's snapshot has every check-in that came before.
   */
  private async record(
    sql: Sql,
    event: Change,
    deviceIds: string[],
    outcome: { reason: FanOutReason; userId: string | null; devicesNeedingSupport: number },
  ): Promise<void> {
    const at = new Date(event.occurredAt);
    const legacyProfilesExpireAt = new Date(at.getTime() + LEGACY_PROFILE_DAYS * 86_400_000).toISOString();
    const rows = await sql.query<{
      device_id: string;
      version: string | null;
      next_check_in_at: Date | null;
      tenant_authority: TenantAuthority | null;
      licenses: string[] | null;
    }>(
      `select d.device_id, s.version, d.next_check_in_at, t.authority as tenant_authority, u.licenses
         from devices d left join es_streams s on s.stream_id = $2 || d.device_id
              left join tenants t on t.tenant_id = d.tenant_id left join users u on u.user_id = d.user_id
        where d.device_id = any($1::uuid[])`,
      [deviceIds, syncStreamId('')],
    );
    // Where each device is to go: a user's switch says it (licensing computed it); a tenant's change
    // leaves it to each user's licenses under the new authority (R8).
    const targetOf = (r: (typeof rows)[number]) =>
      outcome.reason === 'userAuthorityChanged'
        ? (event.data.to as ManagingAuthority | null)
        : effectiveAuthority(r.tenant_authority ?? 'unknown', r.licenses ?? []);
    const devices = rows.map((r) => ({
      deviceId: r.device_id,
      afterVersion: Number(r.version ?? 0),
      nextCheckInAt: r.next_check_in_at?.toISOString() ?? null,
      target: targetOf(r),
    }));
    const { reason } = outcome;
    const cause = { causeEventId: event.eventId, to: event.data.to };
    await this.store.append(
      fanOutStreamId(event.tenantId),
      [
        ...chunks(devices, FAN_OUT_CHUNK).map((chunk) => ({
          type: 'CheckInsRequested',
          data: { reason, ...cause, legacyProfilesExpireAt, devices: chunk },
        })),
        { type: 'CheckInFanOut', data: { ...outcome, ...cause, from: event.data.from, devicesNotified: deviceIds.length } },
      ],
      { expectedVersion: 'any', tenantId: event.tenantId, actor: event.actor, correlationId: event.correlationId, causationId: event.eventId, occurredAt: at },
      sql,
    );
  }

}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
