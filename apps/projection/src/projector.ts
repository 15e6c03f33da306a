import { EventEnvelope, isEvent } from '@mdm/contracts/core';
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
  changesConfigurations,
  deviceIdOf,
  DeviceLists,
  DeviceWithoutLists,
  emptyDevice,
  emptyTenant,
  isTenantStream,
  isVisible,
  joinDevice,
  listItem,
  splitDevice,
  timelineData,
  timelinePosition,
} from '@mdm/projection/domain';
import { Sql } from '@mdm/platform/database';
import { DEVICE_COLUMNS, ViewTables } from './view-tables';

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
    // The devices whose configuration lists the batch changes: only theirs are read and written.
    const listed = new Set<string>();
    for (const e of events) {
      const deviceId = deviceIdOf(e);
      if (deviceId) deviceTenants.set(deviceId, e.tenantId);
      if (deviceId && changesConfigurations(e)) listed.add(deviceId);
      if (isEvent(e, CheckInsRequested)) for (const d of e.data.devices) deviceTenants.set(d.deviceId, e.tenantId);
      if (isEvent(e, UserAuthorityChanged)) userTenants.set(e.data.userId, e.tenantId);
    }

    const devices = await loadDocs<DeviceState>(sql, t.devices, 'device_id', deviceTenants, {
      empty: emptyDevice,
      emptyInMemory: true,
      lists: { ids: [...listed], join: (doc, lists) => joinDevice(doc as DeviceWithoutLists, lists) },
    });
    const users = await loadDocs<UserState>(sql, t.users, 'user_id', userTenants, {
      empty: (userId, tenantId) => ({ userId, tenantId, version: 0, unconfiguredSwitch: null }),
    });

    const timeline: { deviceId: string; event: EventEnvelope; position: number; data: unknown }[] = [];
    const tenantEvents: EventEnvelope[] = [];
    for (const e of events) {
      const deviceId = deviceIdOf(e);
      if (deviceId) {
        if (applyDeviceEvent(devices.get(deviceId)!, e)) timeline.push({ deviceId, event: e, position: timelinePosition(e), data: timelineData(e) });
      } else if (isEvent(e, CheckInsRequested)) {
        for (const entry of e.data.devices) {
          applyCheckInRequest(devices.get(entry.deviceId)!, e, entry);
          timeline.push({
            deviceId: entry.deviceId,
            event: e,
            position: timelinePosition(e, entry.afterVersion),
            data: { reason: e.data.reason, to: e.data.to },
          });
        }
      } else if (isEvent(e, UserAuthorityChanged)) {
        applyUserSwitch(users.get(e.data.userId)!, e);
      } else if (isTenantStream(e)) {
        tenantEvents.push(e);
      }
    }

    await this.saveDevices(sql, [...devices.values()], listed);
    if (users.size > 0) {
      const list = [...users.values()];
      await sql.query(
        `update ${t.users} x set doc = r.doc, switched_at = r.switched_at
           from unnest($1::uuid[], $2::jsonb[], $3::timestamptz[]) r(user_id, doc, switched_at) where x.user_id = r.user_id`,
        [list.map((u) => u.userId), list.map((u) => JSON.stringify(u)), list.map((u) => u.unconfiguredSwitch?.switchedAt ?? null)],
      );
    }
    if (timeline.length > 0) {
      // The rows as one JSON document (the data nested, not re-encoded as strings in an array literal):
      // a third of the client's encoding work of unnest(arrays), and no more for Postgres.
      await sql.query(
        `insert into ${t.timeline} (device_id, event_id, tenant_id, occurred_at, recorded_at, position, stream_version, type, data)
         select * from jsonb_to_recordset($1::jsonb) as r(device_id uuid, event_id uuid, tenant_id uuid, occurred_at timestamptz,
                                                        recorded_at timestamptz, position bigint, stream_version bigint, type text, data jsonb)
         on conflict do nothing`,
        [
          JSON.stringify(
            timeline.map((x) => ({
              device_id: x.deviceId,
              event_id: x.event.eventId,
              tenant_id: x.event.tenantId,
              occurred_at: x.event.occurredAt,
              recorded_at: x.event.recordedAt,
              position: x.position,
              stream_version: x.event.streamVersion,
              type: x.event.type,
              data: x.data,
            })),
          ),
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

  /** Every device of the batch; the lists only of those in `listed` (the others' are as they were). */
  private async saveDevices(sql: Sql, list: DeviceState[], listed: Set<string>): Promise<void> {
    if (list.length === 0) return;
    const columns = Object.entries(DEVICE_COLUMNS);
    const rows = list.map((d) => {
      const { rest, lists } = splitDevice(d);
      const row: Record<string, unknown> = { device_id: d.deviceId, doc: rest, visible: isVisible(d) };
      if (listed.has(d.deviceId)) Object.assign(row, { lists, redundant_count: lists.redundant.length });
      if (isVisible(d)) {
        const item = listItem(d);
        for (const [name, [, of]] of columns) row[name] = of(d, item);
      }
      return row;
    });
    // One JSON document of rows, like the timeline's (a key left out is null, and a device that is
    // not visible has its columns cleared); the ids again, so that the rows are found by the primary
    // key rather than by hashing the whole table. Lists left out keep their stored value untouched.
    await sql.query(
      `update ${this.tables.devices} x
          set doc = r.doc, visible = r.visible, lists = coalesce(r.lists, x.lists), redundant_count = coalesce(r.redundant_count, x.redundant_count),
              ${columns.map(([name]) => `${name} = r.${name}`).join(', ')}
         from jsonb_to_recordset($2::jsonb) as r(device_id uuid, doc jsonb, visible boolean, lists jsonb, redundant_count int,
                                               ${columns.map(([name, [type]]) => `${name} ${type}`).join(', ')})
        where x.device_id = any($1::uuid[]) and x.device_id = r.device_id`,
      [list.map((d) => d.deviceId), JSON.stringify(rows)],
    );
  }
}

/**
 * The rows of these ids, created when new, locked in id order (so two transactions touching the same
 * rows cannot deadlock), and parsed; a new row gets `empty(id, tenantId)`. With `emptyInMemory` (a
 * table whose doc may be null) a new row is created without a doc and its empty doc is made here:
 * the caller writes every row back in the same transaction, so no reader sees it without one. With
 * `lists` (the devices' table) the docs are kept without their lists, and only these ids' are read.
 */
async function loadDocs<T>(
  sql: Sql,
  table: string,
  idColumn: string,
  tenantOf: Map<string, string>,
  options: {
    empty: (id: string, tenantId: string) => T;
    emptyInMemory?: boolean;
    lists?: { ids: string[]; join: (doc: unknown, lists: DeviceLists | null) => T };
  },
): Promise<Map<string, T>> {
  const { empty, emptyInMemory = false, lists } = options;
  const docs = new Map<string, T>();
  if (tenantOf.size === 0) return docs;
  const lock = async (ids: string[]) => {
    const rows = await sql.query<{ id: string; doc: unknown; lists: DeviceLists | null }>(
      `select ${idColumn} as id, doc, ${lists ? `case when ${idColumn} = any($2::uuid[]) then lists end` : 'null'} as lists
         from ${table} where ${idColumn} = any($1::uuid[]) order by ${idColumn} for update`,
      lists ? [ids, lists.ids] : [ids],
    );
    for (const row of rows) {
      if (row.doc === null) docs.set(row.id, empty(row.id, tenantOf.get(row.id)!));
      else docs.set(row.id, lists ? lists.join(row.doc, row.lists) : (row.doc as T));
    }
  };
  // Existing rows first (the steady state: one statement), then the new ones are created and locked.
  // Both passes go in id order, and a transaction waits on another's new rows only once it has
  // locked all its existing ones, so two batches cannot wait on each other in a circle.
  await lock([...tenantOf.keys()].sort());
  const ids = [...tenantOf.keys()].filter((id) => !docs.has(id)).sort();
  if (ids.length === 0) return docs;
  const tenants = ids.map((id) => tenantOf.get(id));
  await (emptyInMemory
    ? sql.query(`insert into ${table} (${idColumn}, tenant_id) select * from unnest($1::uuid[], $2::uuid[]) on conflict do nothing`, [ids, tenants])
    : sql.query(`insert into ${table} (${idColumn}, tenant_id, doc) select * from unnest($1::uuid[], $2::uuid[], $3::jsonb[]) on conflict do nothing`, [
        ids,
        tenants,
        ids.map((id) => JSON.stringify(empty(id, tenantOf.get(id)!))),
      ]));
  await lock(ids);
  return docs;
}
