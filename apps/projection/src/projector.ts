import { EventData, EventEnvelope } from '@mdm/contracts/core';
import { CheckInsRequested } from '@mdm/contracts/device-sync';
import { UserAuthorityChanged } from '@mdm/contracts/licensing';
import {
  DeviceState,
  TenantState,
  UserState,
  applyCheckInRequest,
  applyDeviceEvent,
  applyTenantEvent,
  applyUserSwitch,
  certificate,
  deviceIdOf,
  emptyDevice,
  emptyTenant,
  isTenantStream,
  isVisible,
  listItem,
  removalDueAt,
  timelineData,
  timelinePosition,
} from '@mdm/projection/domain';
import { Sql } from '@mdm/platform/database';
import { ViewTables } from './view-tables';

type Requests = EventEnvelope<EventData<typeof CheckInsRequested>>;

/**
 * Applies a batch of events to one generation of the views, set-based: the batch's devices, users and
 * tenants are loaded (locked, in id order) in one statement each, folded in memory, and written back
 * in one statement each. A batch of 500 events is a handful of round trips, not 500 transactions.
 * Locks are taken in one order (devices, users, tenants; by id within each), so batches of different
 * partitions may run concurrently without deadlocks.
 */
export class Projector {
  constructor(readonly tables: ViewTables) {}

  async apply(sql: Sql, events: EventEnvelope[]): Promise<void> {
    if (events.length === 0) return;
    const t = this.tables;
    const deviceTenants = new Map<string, string>();
    const userTenants = new Map<string, string>();
    for (const e of events) {
      const deviceId = deviceIdOf(e);
      if (deviceId) deviceTenants.set(deviceId, e.tenantId);
      if (e.type === 'CheckInsRequested') for (const d of (e as Requests).data.devices) deviceTenants.set(d.deviceId, e.tenantId);
      if (e.type === 'UserAuthorityChanged') userTenants.set((e.data as { userId: string }).userId, e.tenantId);
    }

    const devices = await loadDocs<DeviceState>(sql, t.devices, 'device_id', deviceTenants, emptyDevice);
    const users = await loadDocs<UserState>(sql, t.users, 'user_id', userTenants, (userId, tenantId) => ({
      userId,
      tenantId,
      version: 0,
      unconfiguredSwitch: null,
    }));

    const timeline: { deviceId: string; event: EventEnvelope; position: number; data: unknown }[] = [];
    const tenantEvents: EventEnvelope[] = [];
    for (const e of events) {
      const deviceId = deviceIdOf(e);
      if (deviceId) {
        if (applyDeviceEvent(devices.get(deviceId)!, e)) timeline.push({ deviceId, event: e, position: timelinePosition(e), data: timelineData(e) });
      } else if (e.type === 'CheckInsRequested') {
        const requests = e as Requests;
        for (const entry of requests.data.devices) {
          applyCheckInRequest(devices.get(entry.deviceId)!, requests, entry);
          timeline.push({
            deviceId: entry.deviceId,
            event: e,
            position: timelinePosition(e, entry.afterVersion),
            data: { reason: requests.data.reason, to: requests.data.to },
          });
        }
      } else if (e.type === 'UserAuthorityChanged') {
        const data = e.data as EventData<typeof UserAuthorityChanged>;
        applyUserSwitch(users.get(data.userId)!, e as EventEnvelope<typeof data>);
      } else if (isTenantStream(e)) {
        tenantEvents.push(e);
      }
    }

    await this.saveDevices(sql, [...devices.values()]);
    if (users.size > 0) {
      const list = [...users.values()];
      await sql.query(
        `update ${t.users} x set doc = r.doc, switched_at = r.switched_at
           from unnest($1::uuid[], $2::jsonb[], $3::timestamptz[]) r(user_id, doc, switched_at) where x.user_id = r.user_id`,
        [list.map((u) => u.userId), list.map((u) => JSON.stringify(u)), list.map((u) => u.unconfiguredSwitch?.switchedAt ?? null)],
      );
    }
    if (timeline.length > 0) {
      await sql.query(
        `insert into ${t.timeline} (device_id, event_id, tenant_id, occurred_at, recorded_at, position, stream_version, type, data)
         select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::timestamptz[], $6::bigint[], $7::bigint[], $8::text[], $9::jsonb[])
         on conflict do nothing`,
        [
          timeline.map((x) => x.deviceId),
          timeline.map((x) => x.event.eventId),
          timeline.map((x) => x.event.tenantId),
          timeline.map((x) => x.event.occurredAt),
          timeline.map((x) => x.event.recordedAt),
          timeline.map((x) => x.position),
          timeline.map((x) => x.event.streamVersion),
          timeline.map((x) => x.event.type),
          timeline.map((x) => JSON.stringify(x.data)),
        ],
      );
    }

    await this.saveTenants(sql, events, tenantEvents);
  }

  /**
   * The tenants last: every event of every batch moves its tenant's as_of, so concurrent batches (one
   * per partition) queue on those few rows; locked last, they are held only from here to the commit.
   * A tenant's fold does not depend on its devices' or users', so the order is free. One upsert
   * (created empty when new, locked in id order) moves as_of; only the tenants whose own stream
   * has events in the batch are read, folded and written back.
   */
  private async saveTenants(sql: Sql, events: EventEnvelope[], tenantEvents: EventEnvelope[]): Promise<void> {
    const t = this.tables;
    const asOf = new Map<string, string>();
    for (const e of events) if ((asOf.get(e.tenantId) ?? '') < e.recordedAt) asOf.set(e.tenantId, e.recordedAt);
    const ids = [...asOf.keys()].sort();
    await sql.query(
      `insert into ${t.tenants} as x (tenant_id, doc, as_of) select * from unnest($1::uuid[], $2::jsonb[], $3::timestamptz[])
         on conflict (tenant_id) do update set as_of = greatest(x.as_of, excluded.as_of)`,
      [ids, ids.map((id) => JSON.stringify(emptyTenant(id))), ids.map((id) => asOf.get(id))],
    );
    if (tenantEvents.length === 0) return;
    const changed = [...new Set(tenantEvents.map((e) => e.tenantId))];
    const rows = await sql.query<{ id: string; doc: TenantState }>(`select tenant_id as id, doc from ${t.tenants} where tenant_id = any($1::uuid[])`, [
      changed,
    ]);
    const tenants = new Map(rows.map((r) => [r.id, r.doc]));
    for (const e of tenantEvents) applyTenantEvent(tenants.get(e.tenantId)!, e);
    await sql.query(`update ${t.tenants} x set doc = r.doc from unnest($1::uuid[], $2::jsonb[]) r(tenant_id, doc) where x.tenant_id = r.tenant_id`, [
      [...tenants.keys()],
      [...tenants.values()].map((s) => JSON.stringify(s)),
    ]);
  }

  private async saveDevices(sql: Sql, list: DeviceState[]): Promise<void> {
    if (list.length === 0) return;
    const visible = (d: DeviceState) => isVisible(d);
    const col = <T>(f: (d: DeviceState) => T) => list.map((d) => (visible(d) ? f(d) : null));
    const item = list.map((d) => (visible(d) ? listItem(d) : null));
    await sql.query(
        `update ${this.tables.devices} x
            set doc = r.doc, visible = r.visible, platform = r.platform, user_id = r.user_id, managed_by = r.managed_by,
                compliance = r.compliance, migration = r.migration, migration_since = r.migration_since,
                requested_at = r.requested_at, next_check_in_at = r.next_check_in_at,
                certificate_not_after = r.certificate_not_after, removal_due_at = r.removal_due_at, redundant_count = r.redundant_count
           from unnest($1::uuid[], $2::jsonb[], $3::boolean[], $4::text[], $5::uuid[], $6::text[], $7::text[], $8::text[],
                       $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[], $14::int[])
                r(device_id, doc, visible, platform, user_id, managed_by, compliance, migration, migration_since, requested_at,
                  next_check_in_at, certificate_not_after, removal_due_at, redundant_count)
          where x.device_id = r.device_id`,
        [
          list.map((d) => d.deviceId),
          list.map((d) => JSON.stringify(d)),
          list.map(visible),
          item.map((i) => i?.platform ?? null),
          item.map((i) => i?.userId ?? null),
          item.map((i) => i?.managedBy ?? null),
          item.map((i) => i?.compliance ?? null),
          item.map((i) => i?.migration ?? null),
          col((d) => d.migration.since),
          col((d) => d.request?.at ?? null),
          col((d) => d.schedule.nextCheckInAt),
          col((d) => certificate(d).notAfter),
          col((d) => removalDueAt(d)),
          list.map((d) => (visible(d) ? d.sync.redundant.length : 0)),
        ],
      );
  }
}

/**
 * The rows of these ids, created empty when new, locked in id order (so two transactions touching
 * the same rows cannot deadlock), and parsed; a new row gets `empty(id, tenantId)`.
 */
async function loadDocs<T>(
  sql: Sql,
  table: string,
  idColumn: string,
  tenantOf: Map<string, string>,
  empty: (id: string, tenantId: string) => T,
): Promise<Map<string, T>> {
  const docs = new Map<string, T>();
  if (tenantOf.size === 0) return docs;
  const ids = [...tenantOf.keys()].sort();
  const docsOf = ids.map((id) => JSON.stringify(empty(id, tenantOf.get(id)!)));
  await sql.query(`insert into ${table} (${idColumn}, tenant_id, doc) select * from unnest($1::uuid[], $2::uuid[], $3::jsonb[]) on conflict do nothing`, [
    ids,
    ids.map((id) => tenantOf.get(id)),
    docsOf,
  ]);
  const rows = await sql.query<{ id: string; doc: T }>(
    `select ${idColumn} as id, doc from ${table} where ${idColumn} = any($1::uuid[]) order by ${idColumn} for update`,
    [ids],
  );
  for (const row of rows) docs.set(row.id, row.doc);
  return docs;
}
