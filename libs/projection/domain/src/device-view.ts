import { ManagingAuthority, Platform, pushProviderOf } from '@mdm/contracts/authority';
import { EventData, EventEnvelope, isEvent } from '@mdm/contracts/core';
import {
  CheckInsRequested,
  DeviceCheckedIn,
  DeviceConfigurationsChanged,
  applyConfigurationDelta,
  DeviceMigrated,
  DeviceMigrationBlocked,
  LEGACY_PROFILE_TYPES,
  LegacyProfilesExpired,
  MdmCertificateRenewed,
  PushTokenCleared,
  PushTokenRegistered,
  RemoteActionQueued,
  RemoteActionStatusChanged,
} from '@mdm/contracts/device-sync';
import { DeviceEnrolled, REMOVAL_AFTER_EXPIRY_MS } from '@mdm/contracts/enrollment';
import { ConfigurationView, DeviceDetail, DeviceListItem, TimelineEntry } from '@mdm/contracts/projection';

type MigrationState = DeviceListItem['migration'];
type HeldConfiguration = ConfigurationView & { configurationId?: string };
type ComplianceView = DeviceDetail['compliance'];
type ActionView = DeviceDetail['pendingActions'][number];


/**
 * Everything the views know of one device, folded from three streams that reach the projection in
 * any order relative to each other: enrollment's `device-<id>`, device-sync's `devicesync-<id>`,
 * and the tenant's fan-out stream (CheckInsRequested names the device with the version of its
 * device-sync stream at that moment). Each part carries the version that guards it.
 */
export interface DeviceState {
  deviceId: string;
  tenantId: string;
  enrollment: {
    version: number;
    serialNumber: string;
    platform: Platform;
    enrollmentType: DeviceDetail['enrollmentType'];
    userId: string | null;
    deviceName: string | null;
    managedBy: ManagingAuthority;
    enrolledAt: string;
    status: 'active' | 'unenrolled' | 'removed';
    certificate: { serial: string; notAfter: string };
    /** R16: it gave a push token at enrollment (absent in docs folded before push tokens existed). */
    pushToken?: boolean;
  } | null;
  sync: {
    version: number;
    managedBy: ManagingAuthority | null;
    lastCheckInAt: string | null;
    /** With their configuration ids (views kept before the ids were folded have none). */
    configurations: HeldConfiguration[];
    redundant: HeldConfiguration[];
    compliance: ComplianceView | null;
    certificate: { serial: string; notAfter: string } | null;
    /** By command id; `queued` is the stream version that queued it (R24: queue order). */
    actions: Record<string, ActionView & { queued: number }>;
    /** R16: the last push token event of the device-sync stream: registered at check-in, or cleared. */
    pushToken?: boolean;
  };
  /**
   * The migration state and the check-in schedule, ordered by `key`: 2v for the device's own event
   * at version v, 2v+1 for a fan-out that marked it after version v. The greater key is the later fact.
   */
  migration: { key: number; state: MigrationState; since: string | null };
  /**
   * The last fan-out that told the device to move (R16), by the same key: when (R28 counts progress
   * from it), to which authority, and when the old profiles expire (R23). Kept apart from the state,
   * which a later event of the device may already have moved on.
   */
  /** The last request to check in; `target` is where the device is to move (its user's effective authority, R8). */
  request: { key: number; at: string; target: ManagingAuthority | null; legacyExpiresAt: string } | null;
  schedule: { key: number; nextCheckInAt: string | null };
}

/**
 * The part of a device's state that grows with its configurations. Most events leave it as it is
 * (a check-in that changes nothing, R21), so the views keep it apart from the rest and read and write
 * it only for the events that change it (`changesConfigurations`).
 */
export type DeviceLists = Pick<DeviceState['sync'], 'configurations' | 'redundant'>;
export type DeviceWithoutLists = Omit<DeviceState, 'sync'> & { sync: Omit<DeviceState['sync'], keyof DeviceLists> };

export function splitDevice(device: DeviceState): { rest: DeviceWithoutLists; lists: DeviceLists } {
  const { configurations, redundant, ...sync } = device.sync;
  return { rest: { ...device, sync }, lists: { configurations, redundant } };
}

/** A device whose lists were not read gets empty ones: only for events that do not change them. */
export function joinDevice(rest: DeviceWithoutLists, lists: DeviceLists | null): DeviceState {
  return { ...rest, sync: { ...rest.sync, configurations: lists?.configurations ?? [], redundant: lists?.redundant ?? [] } };
}

/** Whether applying the event may read or change the device's configuration lists. */
export function changesConfigurations(event: EventEnvelope): boolean {
  if (event.type === 'DeviceConfigurationsChanged' || event.type === 'LegacyProfilesExpired') return true;
  return isEvent(event, DeviceCheckedIn) && Boolean(event.data.configurations || event.data.redundantConfigurations);
}

export function emptyDevice(deviceId: string, tenantId: string): DeviceState {
  return {
    deviceId,
    tenantId,
    enrollment: null,
    sync: { version: 0, managedBy: null, lastCheckInAt: null, configurations: [], redundant: [], compliance: null, certificate: null, actions: {} },
    migration: { key: 0, state: 'none', since: null },
    request: null,
    schedule: { key: 0, nextCheckInAt: null },
  };
}

/** The device an event is about, or undefined when it is not about one device. */
export function deviceIdOf(event: EventEnvelope): string | undefined {
  const data = event.data as { deviceId?: unknown };
  return typeof data?.deviceId === 'string' && event.type !== 'CheckInsRequested' ? data.deviceId : undefined;
}

const view = ({ name, type, authority, version }: ConfigurationView): ConfigurationView => ({ name, type, authority, version });
const held = ({ configurationId, name, type, authority, version }: HeldConfiguration): HeldConfiguration => ({ configurationId, name, type, authority, version });

/** `since`: when the device entered the state, as the event says; else the event's time if the state changes. */
function setMigration(device: DeviceState, key: number, state: MigrationState, at: string, since?: string | null) {
  if (key < device.migration.key) return;
  device.migration = { key, state, since: since ?? (state === device.migration.state ? device.migration.since : at) };
}

/**
 * Applies one event of the device's enrollment or device-sync stream. An event at or below the
 * version already applied from its stream is a replay and changes nothing.
 */
export function applyDeviceEvent(device: DeviceState, event: EventEnvelope): boolean {
  if (event.streamId.startsWith('device-')) return applyEnrollment(device, event);
  if (event.streamVersion <= device.sync.version) return false;
  device.sync.version = event.streamVersion;
  const key = 2 * event.streamVersion;
  const at = event.occurredAt;
  if (isEvent(event, DeviceMigrationBlocked)) {
    setMigration(device, key, event.data.reason === 'userless' ? 'needsSupport' : 'blockedApns', at);
  } else if (isEvent(event, DeviceMigrated)) {
    setMigration(device, key, 'migrated', at);
  } else if (isEvent(event, DeviceCheckedIn)) {
    const d = event.data;
    device.sync.managedBy = d.managedBy;
    device.sync.lastCheckInAt = at;
    // Check-ins before version 3 carry the whole lists; later ones change nothing in them.
    if (d.configurations) device.sync.configurations = d.configurations.map(held);
    if (d.redundantConfigurations) device.sync.redundant = d.redundantConfigurations.map(held);
    device.sync.compliance = { state: d.compliance.state, reasons: d.compliance.reasons, source: d.compliance.source };
    // Version-1 check-ins did not say; a check-in moves every device that was told to move.
    const affected = !['none', 'needsSupport'].includes(device.migration.state);
    setMigration(device, key, d.migration ?? (affected ? 'migrated' : device.migration.state), at, d.migrationSince);
    if (key >= device.schedule.key) device.schedule = { key, nextCheckInAt: d.nextCheckInAt };
  } else if (isEvent(event, DeviceConfigurationsChanged)) {
    const { configurations, redundant } = applyConfigurationDelta<HeldConfiguration>(device.sync, event.data);
    device.sync.configurations = configurations;
    device.sync.redundant = redundant;
  } else if (isEvent(event, LegacyProfilesExpired)) {
    const { items } = event.data;
    const gone = (c: ConfigurationView) => items.some((i) => i.name === c.name && i.type === c.type && i.authority === c.authority);
    device.sync.configurations = device.sync.configurations.filter((c) => !gone(c));
    setMigration(device, key, 'legacyProfilesExpired', at);
  } else if (isEvent(event, RemoteActionQueued)) {
    const d = event.data;
    device.sync.actions[d.commandId] = { commandId: d.commandId, type: d.type, status: 'pending', updatedAt: at, queued: event.streamVersion };
  } else if (isEvent(event, RemoteActionStatusChanged)) {
    const d = event.data;
    const queued = device.sync.actions[d.commandId]?.queued ?? event.streamVersion;
    device.sync.actions[d.commandId] = { commandId: d.commandId, type: d.type, status: d.status, updatedAt: at, queued };
  } else if (isEvent(event, PushTokenRegistered)) {
    device.sync.pushToken = true;
  } else if (isEvent(event, PushTokenCleared)) {
    device.sync.pushToken = false;
  } else if (isEvent(event, MdmCertificateRenewed)) {
    device.sync.certificate = { serial: event.data.serial, notAfter: event.data.notAfter };
  }
  return true;
}

function applyEnrollment(device: DeviceState, event: EventEnvelope): boolean {
  if (device.enrollment && event.streamVersion <= device.enrollment.version) return false;
  if (isEvent(event, DeviceEnrolled)) {
    const d = event.data;
    device.enrollment = {
      version: event.streamVersion,
      serialNumber: d.serialNumber,
      platform: d.platform,
      enrollmentType: d.enrollmentType,
      userId: d.userId,
      deviceName: d.deviceName,
      managedBy: d.managedBy,
      enrolledAt: event.occurredAt,
      status: 'active',
      certificate: { serial: d.mdmCertificate.serial, notAfter: d.mdmCertificate.notAfter },
      pushToken: Boolean(d.pushToken),
    };
  } else if (device.enrollment) {
    device.enrollment.version = event.streamVersion;
    if (event.type === 'DeviceUnenrolled') device.enrollment.status = 'unenrolled';
    if (event.type === 'DeviceRemoved') device.enrollment.status = 'removed';
  }
  return true;
}

/** R16: one device's entry of a CheckInsRequested event. */
export function applyCheckInRequest(
  device: DeviceState,
  event: EventEnvelope<EventData<typeof CheckInsRequested>>,
  entry: EventData<typeof CheckInsRequested>['devices'][number],
): boolean {
  const key = 2 * entry.afterVersion + 1;
  // Two fan-outs after the same device event: the fan-out stream is ordered, so the later one is newer.
  if (device.request && key < device.request.key) return false;
  device.request = { key, at: event.occurredAt, target: entry.target, legacyExpiresAt: event.data.legacyProfilesExpireAt };
  if (key >= device.migration.key) device.migration = { key, state: 'pendingCheckIn', since: event.occurredAt };
  if (key >= device.schedule.key) device.schedule = { key, nextCheckInAt: entry.nextCheckInAt };
  return true;
}

/** Enrolled, not unenrolled or removed: the device is in the views. */
export const isVisible = (device: DeviceWithoutLists) => device.enrollment?.status === 'active';

export function managedBy(device: DeviceWithoutLists): ManagingAuthority {
  return device.sync.managedBy ?? device.enrollment!.managedBy;
}

export function certificate(device: DeviceWithoutLists): { serial: string; notAfter: string } {
  const enrolled = device.enrollment!.certificate;
  const renewed = device.sync.certificate;
  return renewed && Date.parse(renewed.notAfter) > Date.parse(enrolled.notAfter) ? renewed : enrolled;
}

export const removalDueAt = (device: DeviceWithoutLists) => new Date(Date.parse(certificate(device).notAfter) + REMOVAL_AFTER_EXPIRY_MS).toISOString();

export function listItem(device: DeviceWithoutLists): DeviceListItem {
  const e = device.enrollment!;
  return {
    deviceId: device.deviceId,
    platform: e.platform,
    userId: e.userId,
    managedBy: managedBy(device),
    compliance: device.sync.compliance?.state ?? 'notEvaluated',
    migration: device.migration.state,
    lastCheckInAt: device.sync.lastCheckInAt,
  };
}

/** R23: while a device has not checked in since it was told to move, it keeps the old authority's profiles. */
function legacy({ migration, request, sync }: DeviceState): DeviceDetail['legacyConfigurations'] {
  const expiresAt = request?.legacyExpiresAt ?? null;
  if (migration.state === 'legacyProfilesExpired') return { items: [], expiresAt, expired: true };
  if (migration.state !== 'pendingCheckIn' && migration.state !== 'blockedApns') return { items: [], expiresAt: null, expired: false };
  const items = sync.configurations.filter((c) => c.authority !== request?.target && LEGACY_PROFILE_TYPES.includes(c.type)).map(view);
  return { items, expiresAt, expired: false };
}

export function deviceDetail(device: DeviceState, timeline: TimelineEntry[]): Omit<DeviceDetail, 'asOf' | 'lagMs'> {
  const e = device.enrollment!;
  const cert = certificate(device);
  return {
    ...listItem(device),
    serialNumber: e.serialNumber,
    deviceName: e.deviceName,
    enrollmentType: e.enrollmentType,
    enrolledAt: e.enrolledAt,
    configurations: device.sync.configurations.map(view),
    redundantConfigurations: device.sync.redundant.map(view),
    legacyConfigurations: legacy(device),
    compliance: device.sync.compliance ?? { state: 'notEvaluated', reasons: [], source: null },
    nextCheckInAt: device.schedule.nextCheckInAt,
    mdmCertificate: cert,
    removalDueAt: removalDueAt(device),
    // R16: device-sync's last word on the token, else whether the device gave one at enrollment.
    push: { provider: pushProviderOf(e.platform), registered: device.sync.pushToken ?? e.pushToken ?? false },
    pendingActions: Object.values(device.sync.actions)
      .filter((a) => a.status === 'pending' || a.status === 'sent')
      .sort((a, b) => a.queued - b.queued)
      .map(({ queued: _queued, ...action }) => action),
    timeline,
  };
}

/**
 * Where an event goes in the device's timeline: enrollment first, then the device-sync stream with
 * the fan-outs between the versions they followed (the same keys as the migration state), and the
 * end of the enrollment last. Times alone cannot order it: several services stamp one moment alike.
 */
export function timelinePosition(event: EventEnvelope, afterVersion?: number): number {
  if (afterVersion !== undefined) return 2 * afterVersion + 1;
  if (!event.streamId.startsWith('device-')) return 2 * event.streamVersion;
  return event.type === 'DeviceEnrolled' ? 0 : Number.MAX_SAFE_INTEGER;
}

/**
 * What the timeline shows of an event: its data, without secrets (R13: the credential's hash stays
 * out) and without push tokens (R16: an address for the device that no admin needs to read).
 */
export function timelineData(event: EventEnvelope): Record<string, unknown> {
  if (isEvent(event, PushTokenRegistered)) {
    const { token: _token, ...rest } = event.data;
    return rest;
  }
  if (!isEvent(event, DeviceEnrolled)) return event.data as Record<string, unknown>;
  const { credentialHash: _hidden, pushToken: _token, ...rest } = event.data;
  return rest;
}
