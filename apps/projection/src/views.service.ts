import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { notFound } from '@mdm/contracts/core';
import { DeviceListQuery, Overview, TimelineEntry, ViewPageQuery } from '@mdm/contracts/projection';
import { DeviceLists, DeviceWithoutLists, TenantState, bannerVisible, deviceDetail, joinDevice, listItem } from '@mdm/projection/domain';
import { Database } from '@mdm/platform/database';
import { Clock } from '@mdm/platform/clock';
import { CLOCK, decodeCursor, paged } from '@mdm/platform/http';
import { Freshness } from './freshness';
import { ViewGenerations } from './view-generations';
import { ViewTables } from './view-tables';

const uuidKey = z.tuple([z.string().uuid()]);
const deviceIndexKey = z.tuple([z.string().uuid(), z.number().int().nonnegative()]);
const timeIdKey = z.tuple([z.string().datetime(), z.string().uuid()]);

/** R28: at most this many points in the migration progress report. */
const MAX_POINTS = 100;

/** The views of API.md (R26–R29), read from the live generation, always within one tenant. */
@Injectable()
export class ViewsService {
  constructor(
    private readonly db: Database,
    private readonly generations: ViewGenerations,
    private readonly freshness: Freshness,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** R29 */
  private async fresh(t: ViewTables, tenantId: string) {
    const [row] = await this.db.query<{ as_of: Date | null }>(`select as_of from ${t.tenants} where tenant_id = $1`, [tenantId]);
    return { asOf: row?.as_of?.toISOString() ?? null, lagMs: this.freshness.lagMs() };
  }

  overview(tenantId: string): Promise<Overview> {
    return this.generations.read(async (t) => {
      const [tenant] = await this.db.query<{ doc: TenantState }>(`select doc from ${t.tenants} where tenant_id = $1`, [tenantId]);
      const [c] = await this.db.query<Record<string, string | Date | null>>(
        `select count(*) total,
                count(*) filter (where managed_by = 'intune') intune,
                count(*) filter (where managed_by = 'office365') office365,
                count(*) filter (where compliance = 'compliant') compliant,
                count(*) filter (where compliance = 'noncompliant') noncompliant,
                count(*) filter (where compliance = 'notEvaluated') not_evaluated,
                count(*) filter (where migration = 'migrated') migrated,
                count(*) filter (where migration = 'pendingCheckIn') pending,
                count(*) filter (where migration = 'needsSupport') needs_support,
                count(*) filter (where migration = 'blockedApns') blocked_apns,
                count(*) filter (where migration = 'legacyProfilesExpired') legacy_expired,
                min(next_check_in_at) filter (where migration = 'pendingCheckIn') earliest,
                max(next_check_in_at) filter (where migration = 'pendingCheckIn') latest
           from ${t.devices} where tenant_id = $1 and visible`,
        [tenantId],
      );
      const n = (k: string) => Number(c[k]);
      const time = (k: string) => (c[k] as Date | null)?.toISOString() ?? null;
      const state = tenant?.doc;
      return {
        authority: state?.authority ?? 'unknown',
        bannerVisible: state ? bannerVisible(state) : true,
        devices: {
          total: n('total'),
          byManagedBy: { intune: n('intune'), office365: n('office365') },
          byCompliance: { compliant: n('compliant'), noncompliant: n('noncompliant'), notEvaluated: n('not_evaluated') },
          byMigration: {
            migrated: n('migrated'),
            pendingCheckIn: n('pending'),
            needsSupport: n('needs_support'),
            blockedApns: n('blocked_apns'),
            legacyProfilesExpired: n('legacy_expired'),
          },
        },
        expectedByScheduledCheckIn: { count: n('pending'), earliest: time('earliest'), latest: time('latest') },
        ...(await this.fresh(t, tenantId)),
      };
    });
  }

  listDevices(tenantId: string, q: DeviceListQuery) {
    const after = decodeCursor(q.cursor, uuidKey)?.[0] ?? null;
    return this.generations.read(async (t) => {
      const rows = await this.db.query<{ device_id: string; doc: DeviceWithoutLists }>(
        `select device_id, doc from ${t.devices}
          where tenant_id = $1 and visible
            and ($2::text is null or managed_by = $2) and ($3::text is null or compliance = $3)
            and ($4::text is null or migration = $4) and ($5::text is null or platform = $5)
            and ($6::uuid is null or user_id = $6) and ($7::uuid is null or device_id > $7)
          order by device_id limit $8`,
        [tenantId, q.managedBy ?? null, q.compliance ?? null, q.migration ?? null, q.platform ?? null, q.userId ?? null, after, q.limit + 1],
      );
      return {
        ...paged(rows, q.limit, (r) => listItem(r.doc), (r) => [r.device_id]),
        ...(await this.fresh(t, tenantId)),
      };
    });
  }

  device(tenantId: string, deviceId: string) {
    return this.generations.read(async (t) => {
      const [row] = await this.db.query<{ doc: DeviceWithoutLists; lists: DeviceLists | null }>(
        `select doc, lists from ${t.devices} where device_id = $1 and tenant_id = $2 and visible`,
        [deviceId, tenantId],
      );
      if (!row) throw notFound('device');
      const timeline = await this.db.query<{ type: string; occurred_at: Date; data: Record<string, unknown> }>(
        `select type, occurred_at, data from ${t.timeline} where device_id = $1 order by position, stream_version`,
        [deviceId],
      );
      const entries: TimelineEntry[] = timeline.map((e) => ({ type: e.type, occurredAt: e.occurred_at.toISOString(), data: e.data }));
      return { ...deviceDetail(joinDevice(row.doc, row.lists), entries), ...(await this.fresh(t, tenantId)) };
    });
  }

  /** R28: devices told to move since the last authority change, and how many had moved at each moment. */
  migrationReport(tenantId: string) {
    return this.generations.read(async (t) => {
      const [tenant] = await this.db.query<{ doc: TenantState }>(`select doc from ${t.tenants} where tenant_id = $1`, [tenantId]);
      const change = tenant?.doc.lastChange ?? null;
      const freshness = await this.fresh(t, tenantId);
      if (!change) return { changedAt: null, from: null, to: null, points: [], ...freshness };
      const rows = await this.db.query<{ at: Date | null; n: string }>(
        `select case when migration = 'migrated' then migration_since end at, count(*) n
           from ${t.devices} where tenant_id = $1 and visible and requested_at >= $2
          group by 1 order by 1 nulls first`,
        [tenantId, change.changedAt],
      );
      const total = rows.reduce((sum, r) => sum + Number(r.n), 0);
      const points = [{ at: change.changedAt, migrated: 0, pending: total }];
      let migrated = 0;
      const moves = rows.filter((r) => r.at !== null);
      const step = Math.ceil(moves.length / MAX_POINTS);
      moves.forEach((r, i) => {
        migrated += Number(r.n);
        if ((i + 1) % step === 0 || i === moves.length - 1) points.push({ at: r.at!.toISOString(), migrated, pending: total - migrated });
      });
      return { changedAt: change.changedAt, from: change.from, to: change.to, points, ...freshness };
    });
  }

  /** R28/R21 */
  redundantConfigurations(tenantId: string, q: ViewPageQuery) {
    const [afterDevice, afterIndex] = decodeCursor(q.cursor, deviceIndexKey) ?? [null, 0];
    return this.generations.read(async (t) => {
      const rows = await this.db.query<{ device_id: string; ord: string; item: { name: string; type: string; authority: string } }>(
        `select d.device_id, r.ord, r.item
           from ${t.devices} d, jsonb_array_elements(d.lists->'redundant') with ordinality r(item, ord)
          where d.tenant_id = $1 and d.visible and d.redundant_count > 0
            and ($2::uuid is null or (d.device_id, r.ord) > ($2::uuid, $3::bigint))
          order by d.device_id, r.ord limit $4`,
        [tenantId, afterDevice, afterIndex, q.limit + 1],
      );
      return {
        ...paged(
          rows,
          q.limit,
          (r) => ({ deviceId: r.device_id, name: r.item.name, type: r.item.type, authority: r.item.authority }),
          (r) => [r.device_id, Number(r.ord)],
        ),
        ...(await this.fresh(t, tenantId)),
      };
    });
  }

  /** R28/R10 */
  unconfiguredSwitches(tenantId: string, q: ViewPageQuery) {
    const [afterAt, afterUser] = decodeCursor(q.cursor, timeIdKey) ?? [null, null];
    return this.generations.read(async (t) => {
      const rows = await this.db.query<{ user_id: string; switched_at: Date; doc: { unconfiguredSwitch: { from: string; to: string } } }>(
        `select user_id, switched_at, doc from ${t.users}
          where tenant_id = $1 and switched_at is not null
            and ($2::timestamptz is null or (switched_at, user_id) > ($2::timestamptz, $3::uuid))
          order by switched_at, user_id limit $4`,
        [tenantId, afterAt, afterUser, q.limit + 1],
      );
      return {
        ...paged(
          rows,
          q.limit,
          (r) => ({ userId: r.user_id, from: r.doc.unconfiguredSwitch.from, to: r.doc.unconfiguredSwitch.to, switchedAt: r.switched_at.toISOString() }),
          (r) => [r.switched_at.toISOString(), r.user_id],
        ),
        ...(await this.fresh(t, tenantId)),
      };
    });
  }

  /** R28/R15: devices whose MDM certificate has expired, by the date they will be removed. */
  removalDue(tenantId: string, q: ViewPageQuery) {
    const [afterDue, afterDevice] = decodeCursor(q.cursor, timeIdKey) ?? [null, null];
    const now = this.clock.now();
    return this.generations.read(async (t) => {
      const rows = await this.db.query<{ device_id: string; certificate_not_after: Date; removal_due_at: Date }>(
        `select device_id, certificate_not_after, removal_due_at from ${t.devices}
          where tenant_id = $1 and visible and certificate_not_after <= $2
            and ($3::timestamptz is null or (removal_due_at, device_id) > ($3::timestamptz, $4::uuid))
          order by removal_due_at, device_id limit $5`,
        [tenantId, now, afterDue, afterDevice, q.limit + 1],
      );
      return {
        ...paged(
          rows,
          q.limit,
          (r) => ({ deviceId: r.device_id, mdmCertificateNotAfter: r.certificate_not_after.toISOString(), removalDueAt: r.removal_due_at.toISOString() }),
          (r) => [r.removal_due_at.toISOString(), r.device_id],
        ),
        ...(await this.fresh(t, tenantId)),
      };
    });
  }
}
