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
} from '@mdm/projection/domain';
import { Sql } from '@mdm/platform/database';
import { ViewTables } from './view-tables';

type Requests = EventEnvelope<EventData<typeof CheckInsRequested>>;

/**
 * Applies a batch of events to one generation of the views, set-based: the batch's tenants, devices
 * and users are loaded (locked, in id order) in one statement each, folded in memory, and written back
 * in one statement each. A batch of 500 events is a handful of round trips, not 500 transactions.
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

    const tenants = await loadDocs<TenantState>(sql, t.tenants, 'tenant_id', new Map(events.map((e) => [e.tenantId, e.tenantId])), emptyTenant);
    const devices = await loadDocs<DeviceState>(sql, t.devices, 'device_id', deviceTenants, emptyDevice);
    const users = await loadDocs<UserState>(sql, t.users, 'user_id', userTenants, (userId, tenantId) => ({
      userId,
      tenantId,
      version: 0,
      unconfiguredSwitch: null,
    }));

    const asOf = new Map<string, string>();
    const timeline: { deviceId: string; event: EventEnvelope; data: unknown }[] = [];
    for (const e of events) {
      if ((asOf.get(e.tenantId) ?? '') < e.recordedAt) asOf.set(e.tenantId, e.recordedAt);
      const deviceId = deviceIdOf(e);
      if (deviceId) {
        if (applyDeviceEvent(devices.get(deviceId)!, e)) timeline.push({ deviceId, event: e, data: timelineData(e) });
      } else if (e.type === 'CheckInsRequested') {
        const requests = e as Requests;
        for (const entry of requests.data.devices) {
          applyCheckInRequest(devices.get(entry.deviceId)!, requests, entry);
          timeline.push({ deviceId: entry.deviceId, event: e, data: { reason: requests.data.reason, to: requests.data.to } });
        }
      } else if (e.type === 'UserAuthorityChanged') {
        const data = e.data as EventData<typeof UserAuthorityChanged>;
        applyUserSwitch(users.get(data.userId)!, e as EventEnvelope<typeof data>);
      } else if (isTenantStream(e)) {
        applyTenantEvent(tenants.get(e.tenantId)!, e);
      }
    }

    await sql.query(
      `update ${t.tenants} x set doc = r.doc, as_of = greatest(x.as_of, r.as_of)
         from unnest($1::uuid[], $2::jsonb[], $3::timestamptz[]) r(tenant_id, doc, as_of) where x.tenant_id = r.tenant_id`,
      [[...tenants.keys()], [...tenants.values()].map((s) => JSON.stringify(s)), [...tenants.keys()].map((id) => asOf.get(id))],
    );
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
        `insert into ${t.timeline} (device_id, event_id, tenant_id, occurred_at, recorded_at, stream_version, type, data)
         select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::timestamptz[], $6::bigint[], $7::text[], $8::jsonb[])
         on conflict do nothing`,
        [
          timeline.map((x) => x.deviceId),
          timeline.map((x) => x.event.eventId),
          timeline.map((x) => x.event.tenantId),
          timeline.map((x) => x.event.occurredAt),
          timeline.map((x) => x.event.recordedAt),
          timeline.map((x) => x.event.streamVersion),
          timeline.map((x) => x.event.type),
          timeline.map((x) => JSON.stringify(x.data)),
        ],
      );
    }
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
  await (idColumn === 'tenant_id'
    ? sql.query(`insert into ${table} (tenant_id, doc) select * from unnest($1::uuid[], $2::jsonb[]) on conflict do nothing`, [ids, docsOf])
    : sql.query(
        `insert into ${table} (${idColumn}, tenant_id, doc) select * from unnest($1::uuid[], $2::uuid[], $3::jsonb[]) on conflict do nothing`,
        [ids, ids.map((id) => tenantOf.get(id)), docsOf],
      ));
  const rows = await sql.query<{ id: string; doc: T }>(
    `select ${idColumn} as id, doc from ${table} where ${idColumn} = any($1::uuid[]) order by ${idColumn} for update`,
    [ids],
  );
  for (const row of rows) docs.set(row.id, row.doc);
  return docs;
}
