import { Platform, pushProviderOf } from '@mdm/contracts/authority';
import { Sql } from '@mdm/platform/database';
import { ApiClient, ApiResponse } from './api-client';
import { TestTenant } from './tenant';

/**
 * The independent fold of the event log and the views as a client reads them, shared by the
 * model-based test of the views (projection-model.int-spec.ts) and the fault suite (tools/faults):
 * written from DESIGN.md and API.md alone, it does not use @mdm/projection/domain and keeps no
 * stream versions; it follows device-sync's own store in the order its events were written.
 */

const DAY_S = 86_400;
export const DAY_MS = DAY_S * 1000;
/** R15: a device is removed this long after its MDM certificate expired. */
const REMOVAL_AFTER_MS = 180 * DAY_MS;
/** R23: old profiles stay this long on a device that has not checked in since the change. */
const LEGACY_MS = 7 * DAY_MS;
const LEGACY_TYPES = ['email', 'vpn', 'certificate', 'wifi', 'configuration'];
const NO_INTUNE = 'NO_INTUNE_CONFIGURATION_ASSIGNED';

// ---------------------------------------------------------------------------------------------
// The event log, as the services stored it.

export interface StoredEvent {
  eventId: string;
  type: string;
  streamId: string;
  streamVersion: number;
  tenantId: string;
  occurredAt: string;
  recordedAt: string;
   
  data: any;
}

export interface EventLog {
  authority: StoredEvent[];
  licensing: StoredEvent[];
  enrollment: StoredEvent[];
  /**
   * In the order the rows were inserted (global_position). Every device-sync write that touches a
   * device (check-in, fan-out mark, sweep, action) holds that device's row lock while it inserts, so
   * for each device this is the order the facts happened in, fan-out marks included.
   */
  deviceSync: StoredEvent[];
}

export async function readLog(db: Sql): Promise<StoredEvent[]> {
  const rows = await db.query<{
    event_id: string;
    type: string;
    stream_id: string;
    stream_version: string;
    tenant_id: string;
    occurred_at: Date;
    recorded_at: Date;
    data: unknown;
  }>(`select event_id, type, stream_id, stream_version, tenant_id, occurred_at, recorded_at, data from es_events order by global_position`);
  return rows.map((r) => ({
    eventId: r.event_id,
    type: r.type,
    streamId: r.stream_id,
    streamVersion: Number(r.stream_version),
    tenantId: r.tenant_id,
    occurredAt: r.occurred_at.toISOString(),
    recordedAt: r.recorded_at.toISOString(),
    data: r.data,
  }));
}

// ---------------------------------------------------------------------------------------------
// The independent fold.

export interface Cfg {
  name: string;
  type: string;
  authority: string;
  version: number;
}

export type HeldCfg = Cfg & { configurationId: string };

interface ModelDevice {
  deviceId: string;
  tenantId: string;
  platform: string;
  userId: string | null;
  enrollmentType: string;
  serialNumber: string;
  deviceName: string | null;
  enrolledAt: string;
  enrolledManagedBy: string;
  status: 'active' | 'unenrolled' | 'removed';
  certificate: { serial: string; notAfter: string };
  lastCheckIn: {
    at: string;
    managedBy: string;
    compliance: { state: string; reasons: unknown[]; source: string | null };
    nextCheckInAt: string;
  } | null;
  /** With their configuration ids, which the check-ins' changes name. */
  configurations: HeldCfg[];
  redundant: HeldCfg[];
  migration: string;
  /** When the device last entered `migrated`. */
  migratedSince: string | null;
  lastRequest: { at: string; to: string | null; expiresAt: string } | null;
  actions: Map<string, { commandId: string; type: string; status: string; updatedAt: string }>;
  timeline: { type: string; occurredAt: string }[];
  /** How many events of its own device-sync stream were written so far (a cross-check of the fan-out). */
  syncEvents: number;
}

export interface ModelTenant {
  tenantId: string;
  authority: string;
  lastChange: { changedAt: string; from: string; to: string } | null;
  switches: Map<string, { userId: string; from: string | null; to: string | null; switchedAt: string; warnings: string[] }>;
  asOf: string | null;
}

export interface Fold {
  tenants: Map<string, ModelTenant>;
  devices: Map<string, ModelDevice>;
  /** Things the log itself contradicts (e.g. a fan-out mark that names the wrong stream version). */
  inconsistencies: string[];
}

const cfg = (c: Cfg): Cfg => ({ name: c.name, type: c.type, authority: c.authority, version: c.version });
const held = (c: HeldCfg): HeldCfg => ({ configurationId: c.configurationId, ...cfg(c) });
/** By name, then id, comparing code points. */
const listed = (a: HeldCfg, b: HeldCfg) => (a.name !== b.name ? (a.name < b.name ? -1 : 1) : a.configurationId < b.configurationId ? -1 : 1);
const plusMs = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();

export function fold(log: EventLog, checkInIntervalMs: number): Fold {
  const tenants = new Map<string, ModelTenant>();
  const devices = new Map<string, ModelDevice>();
  const inconsistencies: string[] = [];
  const tenant = (id: string) => {
    if (!tenants.has(id)) tenants.set(id, { tenantId: id, authority: 'unknown', lastChange: null, switches: new Map(), asOf: null });
    return tenants.get(id)!;
  };
  // R29: every event on the topics the views consume counts for the tenant's freshness.
  for (const e of [...log.authority, ...log.licensing, ...log.enrollment, ...log.deviceSync]) {
    const t = tenant(e.tenantId);
    if (t.asOf === null || e.recordedAt > t.asOf) t.asOf = e.recordedAt;
  }

  for (const e of log.authority) {
    if (e.type !== 'AuthorityChanged' || e.streamId !== `tenant-${e.tenantId}`) continue;
    const t = tenant(e.tenantId);
    t.authority = e.data.to;
    t.lastChange = { changedAt: e.occurredAt, from: e.data.from, to: e.data.to };
  }

  for (const e of log.licensing) {
    if (e.type !== 'UserAuthorityChanged') continue;
    const { userId, from, to, warnings } = e.data;
    tenant(e.tenantId).switches.set(userId, { userId, from, to, switchedAt: e.occurredAt, warnings });
  }

  for (const e of log.enrollment) {
    const d = e.data;
    if (e.type === 'DeviceEnrolled') {
      devices.set(d.deviceId, {
        deviceId: d.deviceId,
        tenantId: e.tenantId,
        platform: d.platform,
        userId: d.userId,
        enrollmentType: d.enrollmentType,
        serialNumber: d.serialNumber,
        deviceName: d.deviceName,
        enrolledAt: e.occurredAt,
        enrolledManagedBy: d.managedBy,
        status: 'active',
        certificate: { serial: d.mdmCertificate.serial, notAfter: d.mdmCertificate.notAfter },
        lastCheckIn: null,
        configurations: [],
        redundant: [],
        migration: 'none',
        migratedSince: null,
        lastRequest: null,
        actions: new Map(),
        timeline: [],
        syncEvents: 0,
      });
    }
    const device = devices.get(d.deviceId);
    if (!device) {
      inconsistencies.push(`${e.type} of ${d.deviceId} before its DeviceEnrolled`);
      continue;
    }
    if (e.type === 'DeviceUnenrolled') device.status = 'unenrolled';
    if (e.type === 'DeviceRemoved') device.status = 'removed';
    device.timeline.push({ type: e.type, occurredAt: e.occurredAt });
  }

  const enter = (device: ModelDevice, state: string, at: string) => {
    if (state === 'migrated' && device.migration !== 'migrated') device.migratedSince = at;
    device.migration = state;
  };

  for (const e of log.deviceSync) {
    if (e.type === 'CheckInFanOut') continue;
    if (e.type === 'CheckInsRequested') {
      for (const entry of e.data.devices as { deviceId: string; afterVersion: number; nextCheckInAt: string | null; target: string | null }[]) {
        const device = devices.get(entry.deviceId)!;
        if (entry.afterVersion !== device.syncEvents) {
          inconsistencies.push(`fan-out ${e.eventId} marks ${entry.deviceId} after version ${entry.afterVersion}; ${device.syncEvents} written before it`);
        }
        const schedule = device.lastCheckIn?.nextCheckInAt ?? plusMs(device.enrolledAt, checkInIntervalMs);
        if (entry.nextCheckInAt !== schedule) {
          inconsistencies.push(`fan-out ${e.eventId} gives ${entry.deviceId} nextCheckInAt ${entry.nextCheckInAt}, its schedule is ${schedule}`);
        }
        enter(device, 'pendingCheckIn', e.occurredAt);
        device.lastRequest = { at: e.occurredAt, to: entry.target, expiresAt: plusMs(e.occurredAt, LEGACY_MS) };
        if (e.data.legacyProfilesExpireAt !== device.lastRequest.expiresAt) {
          inconsistencies.push(`fan-out ${e.eventId}: legacyProfilesExpireAt ${e.data.legacyProfilesExpireAt}, 7 days after the change is ${device.lastRequest.expiresAt}`);
        }
        device.timeline.push({ type: e.type, occurredAt: e.occurredAt });
      }
      continue;
    }
    const d = e.data;
    const device = devices.get(d.deviceId);
    if (!device) {
      inconsistencies.push(`${e.type} of ${d.deviceId}, a device never enrolled`);
      continue;
    }
    device.syncEvents++;
    if (e.streamId !== `devicesync-${d.deviceId}` || e.streamVersion !== device.syncEvents) {
      inconsistencies.push(`${e.type} ${e.eventId} is ${e.streamId} v${e.streamVersion}, expected devicesync-${d.deviceId} v${device.syncEvents}`);
    }
    device.timeline.push({ type: e.type, occurredAt: e.occurredAt });
    switch (e.type) {
      case 'DeviceMigrationBlocked':
        enter(device, d.reason === 'userless' ? 'needsSupport' : 'blockedApns', e.occurredAt);
        break;
      case 'DeviceMigrated':
        enter(device, 'migrated', e.occurredAt);
        break;
      case 'DeviceCheckedIn':
        device.lastCheckIn = {
          at: e.occurredAt,
          managedBy: d.managedBy,
          compliance: { state: d.compliance.state, reasons: d.compliance.reasons, source: d.compliance.source },
          nextCheckInAt: d.nextCheckInAt,
        };
        // Version-2 check-ins carried the whole lists; version 3 leaves what changed to DeviceConfigurationsChanged.
        if (d.configurations) device.configurations = d.configurations.map(held);
        if (d.redundantConfigurations) device.redundant = d.redundantConfigurations.map(held);
        enter(device, d.migration, e.occurredAt);
        break;
      case 'DeviceConfigurationsChanged': {
        const id = (c: HeldCfg) => c.configurationId;
        const removed = new Set<string>(d.removed.map(id));
        const updated = new Map<string, HeldCfg>(d.updated.map((c: HeldCfg) => [id(c), held(c)]));
        device.configurations = [
          ...device.configurations.filter((c) => !removed.has(id(c))).map((c) => updated.get(id(c)) ?? c),
          ...d.added.map(held),
        ].sort(listed);
        const gone = new Set<string>(d.redundantRemoved.map(id));
        device.redundant = [...device.redundant.filter((c) => !gone.has(id(c))), ...d.redundantAdded.map(held)];
        break;
      }
      case 'LegacyProfilesExpired': {
        const gone = (c: Cfg) => d.items.some((i: Cfg) => i.name === c.name && i.type === c.type && i.authority === c.authority);
        device.configurations = device.configurations.filter((c) => !gone(c));
        enter(device, 'legacyProfilesExpired', e.occurredAt);
        break;
      }
      case 'RemoteActionQueued':
        device.actions.set(d.commandId, { commandId: d.commandId, type: d.type, status: 'pending', updatedAt: e.occurredAt });
        break;
      case 'RemoteActionStatusChanged':
        device.actions.set(d.commandId, { commandId: d.commandId, type: d.type, status: d.status, updatedAt: e.occurredAt });
        break;
      case 'MdmCertificateRenewed':
        device.certificate = { serial: d.serial, notAfter: d.notAfter };
        break;
      default:
        inconsistencies.push(`unexpected device-sync event ${e.type}`);
    }
  }
  return { tenants, devices, inconsistencies };
}

// What the views should say, derived from the fold.

export const visibleOf = (f: Fold, tenantId: string) =>
  [...f.devices.values()].filter((d) => d.tenantId === tenantId && d.status === 'active').sort((a, b) => cmp(a.deviceId, b.deviceId));
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const managedByOf = (d: ModelDevice) => d.lastCheckIn?.managedBy ?? d.enrolledManagedBy;
const complianceOf = (d: ModelDevice) => d.lastCheckIn?.compliance ?? { state: 'notEvaluated', reasons: [], source: null };
/**
 * R18: when the device is next expected: what its last check-in said. Before its first check-in the
 * projection shows none until a fan-out names the schedule device-sync keeps from enrollment
 * (enrolledAt + the interval): a judgement of the projection, followed here (see the report of issue 5).
 */
const nextCheckInOf = (d: ModelDevice, intervalMs: number) =>
  d.lastCheckIn?.nextCheckInAt ?? (d.lastRequest ? plusMs(d.enrolledAt, intervalMs) : null);

export function expectedListItem(d: ModelDevice) {
  return {
    deviceId: d.deviceId,
    platform: d.platform,
    userId: d.userId,
    managedBy: managedByOf(d),
    compliance: complianceOf(d).state,
    migration: d.migration,
    lastCheckInAt: d.lastCheckIn?.at ?? null,
  };
}

/** R23: the old authority's profiles while the device has not checked in since it was told to move. */
function expectedLegacy(d: ModelDevice) {
  if (d.migration === 'legacyProfilesExpired') return { items: [], expiresAt: d.lastRequest?.expiresAt ?? null, expired: true };
  if (d.migration !== 'pendingCheckIn' && d.migration !== 'blockedApns') return { items: [], expiresAt: null, expired: false };
  // Those not of the authority the device was told to move to (its user's, named per device by the fan-out).
  const target = d.lastRequest?.to ?? null;
  return {
    items: d.configurations.filter((c) => LEGACY_TYPES.includes(c.type) && c.authority !== target).map(cfg),
    expiresAt: d.lastRequest?.expiresAt ?? null,
    expired: false,
  };
}

export function expectedDetail(d: ModelDevice, intervalMs: number) {
  return {
    ...expectedListItem(d),
    serialNumber: d.serialNumber,
    deviceName: d.deviceName,
    enrollmentType: d.enrollmentType,
    enrolledAt: d.enrolledAt,
    configurations: d.configurations.map(cfg),
    redundantConfigurations: d.redundant.map(cfg),
    legacyConfigurations: expectedLegacy(d),
    compliance: complianceOf(d),
    nextCheckInAt: nextCheckInOf(d, intervalMs),
    mdmCertificate: d.certificate,
    removalDueAt: plusMs(d.certificate.notAfter, REMOVAL_AFTER_MS),
    // R16: the model's devices give no push token.
    push: { provider: pushProviderOf(d.platform as Platform), registered: false },
    // R24: in the order they were queued (a Map keeps insertion order; the log is in commit order).
    pendingActions: [...d.actions.values()].filter((a) => a.status === 'pending' || a.status === 'sent'),
    timeline: timelineKeys(d.timeline),
  };
}

export const timelineKeys = (entries: { type: string; occurredAt: string }[]) => entries.map((e) => `${e.occurredAt} ${e.type}`).sort();

export function expectedOverview(f: Fold, tenantId: string, intervalMs: number) {
  const t = f.tenants.get(tenantId)!;
  const devices = visibleOf(f, tenantId);
  const count = (p: (d: ModelDevice) => boolean) => devices.filter(p).length;
  const pending = devices.filter((d) => d.migration === 'pendingCheckIn');
  const times = pending.map((d) => nextCheckInOf(d, intervalMs)).filter((x): x is string => x !== null).sort();
  return {
    authority: t.authority,
    bannerVisible: t.authority === 'unknown',
    devices: {
      total: devices.length,
      byManagedBy: { intune: count((d) => managedByOf(d) === 'intune'), office365: count((d) => managedByOf(d) === 'office365') },
      byCompliance: {
        compliant: count((d) => complianceOf(d).state === 'compliant'),
        noncompliant: count((d) => complianceOf(d).state === 'noncompliant'),
        notEvaluated: count((d) => complianceOf(d).state === 'notEvaluated'),
      },
      byMigration: {
        migrated: count((d) => d.migration === 'migrated'),
        pendingCheckIn: pending.length,
        needsSupport: count((d) => d.migration === 'needsSupport'),
        blockedApns: count((d) => d.migration === 'blockedApns'),
        legacyProfilesExpired: count((d) => d.migration === 'legacyProfilesExpired'),
      },
    },
    expectedByScheduledCheckIn: { count: pending.length, earliest: times[0] ?? null, latest: times[times.length - 1] ?? null },
    asOf: t.asOf,
  };
}

/** R28: the devices told to move since the last change, and how many of them had moved by when. */
export function expectedMigrationReport(f: Fold, tenantId: string) {
  const t = f.tenants.get(tenantId)!;
  if (!t.lastChange) return { changedAt: null, from: null, to: null, points: [], asOf: t.asOf };
  const { changedAt, from, to } = t.lastChange;
  const told = visibleOf(f, tenantId).filter((d) => d.lastRequest && d.lastRequest.at >= changedAt);
  const moves = new Map<string, number>();
  for (const d of told) if (d.migration === 'migrated') moves.set(d.migratedSince!, (moves.get(d.migratedSince!) ?? 0) + 1);
  const points = [{ at: changedAt, migrated: 0, pending: told.length }];
  let migrated = 0;
  for (const at of [...moves.keys()].sort()) {
    migrated += moves.get(at)!;
    points.push({ at, migrated, pending: told.length - migrated });
  }
  return { changedAt, from, to, points, asOf: t.asOf };
}

export function expectedReports(f: Fold, tenantId: string, now: string) {
  const t = f.tenants.get(tenantId)!;
  const devices = visibleOf(f, tenantId);
  return {
    migration: expectedMigrationReport(f, tenantId),
    redundant: devices.flatMap((d) =>
      d.redundant.map((c) => ({ deviceId: d.deviceId, name: c.name, type: c.type, authority: c.authority })),
    ),
    unconfigured: [...t.switches.values()]
      .filter((s) => s.to === 'intune' && s.warnings.includes(NO_INTUNE))
      .map(({ userId, from, to, switchedAt }) => ({ userId, from, to, switchedAt }))
      .sort((a, b) => cmp(a.switchedAt, b.switchedAt) || cmp(a.userId, b.userId)),
    removalDue: devices
      .filter((d) => d.certificate.notAfter <= now)
      .map((d) => ({ deviceId: d.deviceId, mdmCertificateNotAfter: d.certificate.notAfter, removalDueAt: plusMs(d.certificate.notAfter, REMOVAL_AFTER_MS) }))
      .sort((a, b) => cmp(a.removalDueAt, b.removalDueAt) || cmp(a.deviceId, b.deviceId)),
  };
}

// ---------------------------------------------------------------------------------------------
// The views, as a client reads them through the gateway.

 
export interface Views {
  overview: any;
  list: any[];
  filtered: Record<string, any[]>;
  pagedList: any[];
  details: Record<string, any>;
  migration: any;
  redundant: any[];
  pagedRedundant: any[];
  unconfigured: any[];
  removalDue: any[];
  asOfs: (string | null)[];
}
 

export async function ok(res: Promise<ApiResponse>, what: string): Promise<ApiResponse> {
  const r = await res;
  if (r.status !== 200) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r;
}

export async function allPages(admin: ApiClient, path: string, limit: number, asOfs: (string | null)[]) {
  const items: unknown[] = [];
  let cursor: string | null = null;
  for (let pages = 0; ; pages++) {
    if (pages > 200) throw new Error(`${path}: more than 200 pages`);
    const sep = path.includes('?') ? '&' : '?';
    const url = `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await ok(admin.get(url), url);
    items.push(...res.body.items);
    asOfs.push(res.body.asOf);
    cursor = res.body.nextCursor;
    if (!cursor) return items;
  }
}

/** Every view of a tenant; the device list is also read in pages of `pageSize` (small pages test the cursors). */
export async function readViews(t: TestTenant, deviceIds: string[], filters: string[], pageSize = 3): Promise<Views> {
  const asOfs: (string | null)[] = [];
  const overview = (await ok(t.admin.get(t.path('/overview')), 'overview')).body;
  asOfs.push(overview.asOf);
  const list = await allPages(t.admin, t.path('/devices'), 500, asOfs);
  const pagedList = await allPages(t.admin, t.path('/devices'), pageSize, asOfs);
  const filtered: Record<string, unknown[]> = {};
  for (const f of filters) filtered[f] = await allPages(t.admin, t.path(`/devices?${f}`), 500, asOfs);
  const details: Record<string, unknown> = {};
  for (const id of deviceIds) {
    const res = await t.admin.get(t.path(`/devices/${id}`));
    if (res.status === 404) details[id] = 404;
    else if (res.status !== 200) throw new Error(`device ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    else {
      asOfs.push(res.body.asOf);
      const { lagMs: _lag, asOf: _asOf, ...rest } = res.body;
      details[id] = rest;
    }
  }
  const migration = (await ok(t.admin.get(t.path('/reports/migration')), 'migration report')).body;
  asOfs.push(migration.asOf);
  return {
    overview,
    list,
    filtered,
    pagedList,
    details,
    migration,
    redundant: await allPages(t.admin, t.path('/reports/redundant-configurations'), 500, asOfs),
    pagedRedundant: await allPages(t.admin, t.path('/reports/redundant-configurations'), 2, asOfs),
    unconfigured: await allPages(t.admin, t.path('/reports/unconfigured-switches'), 500, asOfs),
    removalDue: await allPages(t.admin, t.path('/reports/removal-due'), 500, asOfs),
    asOfs,
  };
}

/** The migration report as compared: all of it but lagMs. */
export function migrationSummary(report: any) {
  const { lagMs: _lag, ...rest } = report;
  return rest;
}

/** The same views with what legitimately differs between two reads left out (lagMs). */
export function comparable(v: Views) {
  const { lagMs: _a, ...overview } = v.overview;
  return { ...v, overview, migration: migrationSummary(v.migration) };
}
