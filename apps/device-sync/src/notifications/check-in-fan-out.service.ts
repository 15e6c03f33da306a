import { Inject, Injectable, Optional } from '@nestjs/common';
import { TenantAuthority } from '@mdm/contracts/authority';
import { FAN_OUT_CHUNK, fanOutStreamId, syncStreamId } from '@mdm/contracts/device-sync';
import { LEGACY_PROFILE_DAYS, movesAuthority } from '@mdm/device-sync/domain';
import { EffectiveAuthority, effectiveAuthority } from '@mdm/contracts/licensing';
import { Sql } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { eventContext } from '@mdm/platform/inbox';
import { FanOutPort, NotificationReason, NotifierPort, TenantAuthorityChange, UserAuthorityChange } from '../ports';

/** Optional: devices per notification insert / per event append (tests make it small). */
export const FAN_OUT_BATCH_SIZE = Symbol('FAN_OUT_BATCH_SIZE');

type FanOutReason = 'authorityChanged' | 'userAuthorityChanged';

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
    private readonly store: EventStore,
    private readonly notifier: NotifierPort,
    @Optional() @Inject(FAN_OUT_BATCH_SIZE) batchSize?: number,
  ) {
    super();
    this.batchSize = batchSize ?? BATCH;
  }

  async tenantChanged(sql: Sql, event: TenantAuthorityChange): Promise<void> {
    if (!movesAuthority(event)) return;
    const at = new Date(event.occurredAt);
    // R16: every active device with a user; R17: the userless ones stay where they are, flagged.
    const notify = await this.markPending(sql, event.tenantId, at);
    await this.notifyInBatches(
      sql,
      notify.map((deviceId) => ({ deviceId, tenantId: event.tenantId })),
      'authorityChanged',
    );
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
        { ...eventContext(event), actor: event.actor, occurredAt: at },
        sql,
      );
    }
    await this.record(sql, [{ event, deviceIds: notify, outcome: { reason: 'authorityChanged', userId: null, devicesNeedingSupport: blocked.length } }]);
  }

  /**
   * R9 → R16: every active device of each user, in a few statements for the whole batch (a tenant's
   * authority change moves all its users at once). When a change is licensing's answer to the
   * tenant's authority change whose fan-out ran here (its cause is the tenant's latest
   * AuthorityChanged), that fan-out has told the user's devices already, and any check-in decided
   * since was decided on the same tenant authority and licenses: a device waiting for its check-in,
   * or already managed by the user's new authority, is not told (nor marked) twice. Only the others
   * are: one enrolled under the old authority whose enrollment arrived after the fan-out, one whose
   * check-in was blocked. Each change keeps its own outcome (its CheckInFanOut, caused by it).
   */
  async usersChanged(sql: Sql, events: UserAuthorityChange[]): Promise<void> {
    const changes = events.filter(movesAuthority);
    if (changes.length === 0) return;
    const tenants = await sql.query<{ tenant_id: string; authority_event_id: string | null }>(
      'select tenant_id, authority_event_id from tenants where tenant_id = any($1::uuid[])',
      [[...new Set(changes.map((e) => e.tenantId))]],
    );
    const latestChange = new Map(tenants.map((t) => [t.tenant_id, t.authority_event_id]));
    const marked = new Map<UserAuthorityChange, string[]>();
    // A user changed twice in one batch: the second change sees what the first marked, as in turn.
    for (const round of userRounds(changes)) {
      const devices = await this.markUsersPending(
        sql,
        round.map((e) => ({
          tenantId: e.tenantId,
          userId: e.data.userId,
          at: new Date(e.occurredAt),
          unsettledOnly: e.causationId !== null && latestChange.get(e.tenantId) === e.causationId,
          target: e.data.to,
        })),
      );
      for (const e of round) marked.set(e, devices.get(e.data.userId) ?? []);
    }
    await this.notifyInBatches(
      sql,
      changes.flatMap((e) => marked.get(e)!.map((deviceId) => ({ deviceId, tenantId: e.tenantId }))),
      'userAuthorityChanged',
    );
    await this.record(
      sql,
      changes.map((event) => ({
        event,
        deviceIds: marked.get(event)!,
        outcome: { reason: 'userAuthorityChanged', userId: event.data.userId, devicesNeedingSupport: 0 },
      })),
    );
  }

  /** One UPDATE for all the tenant's devices with a user, however many: their ids come back for the notifications. */
  private async markPending(sql: Sql, tenantId: string, at: Date): Promise<string[]> {
    const rows = await sql.query<{ device_id: string }>(
      `update devices set ${pendingSince('$2::timestamptz', '$3')}
        where tenant_id = $1 and status = 'active' and user_id is not null
        returning device_id`,
      [tenantId, at, LEGACY_PROFILE_DAYS],
    );
    return rows.map((r) => r.device_id);
  }

  /**
   * One UPDATE for the devices of many users (each user once). `unsettledOnly`: not those waiting
   * for a check-in, nor those managed by the target already. The marked device ids come back by user.
   */
  private async markUsersPending(
    sql: Sql,
    users: { tenantId: string; userId: string; at: Date; unsettledOnly: boolean; target: EffectiveAuthority }[],
  ): Promise<Map<string, string[]>> {
    const rows = await sql.query<{ device_id: string; user_id: string }>(
      `with u as (
         select * from unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::boolean[], $5::text[])
                  as u(tenant_id, user_id, at, unsettled_only, target)),
       marked as (
         select d.device_id, u.at from devices d join u on d.tenant_id = u.tenant_id and d.user_id = u.user_id
          where d.status = 'active'
            and (not u.unsettled_only or (d.migration_state <> 'pendingCheckIn' and d.managed_by is distinct from coalesce(u.target, d.managed_by)))
          order by d.device_id
          for update of d)
       update devices d set ${pendingSince('marked.at', '$6')} from marked where d.device_id = marked.device_id
       returning d.device_id, d.user_id`,
      [
        users.map((u) => u.tenantId),
        users.map((u) => u.userId),
        users.map((u) => u.at),
        users.map((u) => u.unsettledOnly),
        users.map((u) => u.target),
        LEGACY_PROFILE_DAYS,
      ],
    );
    const byUser = new Map<string, string[]>();
    for (const r of rows) byUser.set(r.user_id, [...(byUser.get(r.user_id) ?? []), r.device_id]);
    return byUser;
  }

  private async notifyInBatches(sql: Sql, devices: { deviceId: string; tenantId: string }[], reason: NotificationReason): Promise<void> {
    for (const batch of chunks(devices, this.batchSize)) await this.notifier.notify(sql, batch, reason);
  }

  /**
   * The fan-outs' events, in one append: per fan-out, which devices it marked (CheckInsRequested,
   * FAN_OUT_CHUNK devices each, with each device's own stream version) and its outcome
   * (CheckInFanOut), on its tenant's fan-out stream, caused by its change. The versions are read after
   * the UPDATEs that marked the devices: they hold their row locks, and a check-in appends only under
   * that lock, so this statement's snapshot has every check-in that came before.
   */
  private async record(
    sql: Sql,
    fanOuts: { event: TenantAuthorityChange | UserAuthorityChange; deviceIds: string[]; outcome: { reason: FanOutReason; userId: string | null; devicesNeedingSupport: number } }[],
  ): Promise<void> {
    const marked = [...new Set(fanOuts.flatMap((f) => f.deviceIds))];
    const rows =
      marked.length === 0
        ? []
        : await sql.query<{
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
            [marked, syncStreamId('')],
          );
    const byDevice = new Map(rows.map((r) => [r.device_id, r]));
    await this.store.appendToStreams(
      fanOuts.map(({ event, deviceIds, outcome }) => {
        const at = new Date(event.occurredAt);
        const legacyProfilesExpireAt = new Date(at.getTime() + LEGACY_PROFILE_DAYS * 86_400_000).toISOString();
        const { reason } = outcome;
        // Where each device is to go: a user's switch says it (licensing computed it); a tenant's change
        // leaves it to each user's licenses under the new authority (R8).
        const devices = deviceIds.map((deviceId) => {
          const r = byDevice.get(deviceId)!;
          return {
            deviceId,
            afterVersion: Number(r.version ?? 0),
            nextCheckInAt: r.next_check_in_at?.toISOString() ?? null,
            target:
              event.type === 'UserAuthorityChanged'
                ? event.data.to
                : effectiveAuthority(r.tenant_authority ?? 'unknown', r.licenses ?? []),
          };
        });
        const cause = { causeEventId: event.eventId, to: event.data.to };
        return {
          streamId: fanOutStreamId(event.tenantId),
          events: [
            ...chunks(devices, FAN_OUT_CHUNK).map((chunk) => ({
              type: 'CheckInsRequested',
              data: { reason, ...cause, legacyProfilesExpireAt, devices: chunk },
            })),
            { type: 'CheckInFanOut', data: { ...outcome, ...cause, from: event.data.from, devicesNotified: deviceIds.length } },
          ],
          // Each change's events in its own context, not the batch's: its tenant and correlation, caused by it.
          opts: { ...eventContext(event), actor: event.actor, occurredAt: at },
        };
      }),
      sql,
    );
  }
}

/** The SET of a device marked pendingCheckIn at `at`: its legacy profiles are due `days` later (R23). */
function pendingSince(at: string, days: string): string {
  return `migration_state = 'pendingCheckIn', migration_changed_at = ${at}, legacy_due_at = ${at} + make_interval(days => ${days})`;
}

/** The changes in rounds that name each user at most once; a user's changes keep their order. */
function userRounds(changes: UserAuthorityChange[]): UserAuthorityChange[][] {
  const rounds: UserAuthorityChange[][] = [];
  const seen = new Map<string, number>();
  for (const change of changes) {
    const round = seen.get(change.data.userId) ?? 0;
    seen.set(change.data.userId, round + 1);
    (rounds[round] ??= []).push(change);
  }
  return rounds;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
