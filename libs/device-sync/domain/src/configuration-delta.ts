import { ManagingAuthority } from '@mdm/contracts/authority';
import { DeviceSyncEvent } from '@mdm/contracts/device-sync';
import { AuthorityPlan, Installed, MigrationBlockedByApns, MigrationState } from './check-in';
import { DeviceCompliance, ReportedState } from './compliance';

/**
 * What decides the configurations a device is given (R20, R21): the tenant's configurations and
 * their assignments (a version bumped by every change of them), the user's groups (likewise), and
 * the authority the device is managed by. A check-in whose key is the one the device was last given
 * has nothing to re-read or re-plan: its configurations are the ones it has.
 */
export function assignmentKey(assignmentsVersion: number | string, groupVersion: number | string, managedBy: ManagingAuthority): string {
  return `${assignmentsVersion}:${groupVersion}:${managedBy}`;
}

/** What a check-in changed on the device, by configuration id; `removed` as the items were. */
export interface ConfigurationDelta {
  added: Installed[];
  updated: Installed[];
  removed: Installed[];
  redundantAdded: Installed[];
  redundantRemoved: Installed[];
}

const same = (a: Installed, b: Installed) => a.name === b.name && a.type === b.type && a.authority === b.authority && a.version === b.version;

/** The change from what the device had to what it is given, or null when there is none. */
export function configurationDelta(
  before: { configurations: Installed[]; redundant: Installed[] },
  after: { configurations: Installed[]; redundant: Installed[] },
): ConfigurationDelta | null {
  const had = new Map(before.configurations.map((c) => [c.configurationId, c]));
  const has = new Set(after.configurations.map((c) => c.configurationId));
  const added: Installed[] = [];
  const updated: Installed[] = [];
  for (const c of after.configurations) {
    const old = had.get(c.configurationId);
    if (!old) added.push(c);
    else if (!same(old, c)) updated.push(c);
  }
  const removed = before.configurations.filter((c) => !has.has(c.configurationId));
  const wasRedundant = new Set(before.redundant.map((c) => c.configurationId));
  const isRedundant = new Set(after.redundant.map((c) => c.configurationId));
  const redundantAdded = after.redundant.filter((c) => !wasRedundant.has(c.configurationId));
  const redundantRemoved = before.redundant.filter((c) => !isRedundant.has(c.configurationId));
  const delta = { added, updated, removed, redundantAdded, redundantRemoved };
  return Object.values(delta).some((list) => list.length > 0) ? delta : null;
}

/** What a check-in decided, as it is recorded. */
export interface CheckInRecord {
  deviceId: string;
  plan: AuthorityPlan;
  /** What changed in the device's configurations, if anything (configurationDelta). */
  delta: ConfigurationDelta | null;
  /** A certificate issued by this check-in (R15). */
  renewed: { serial: string; notBefore: string; notAfter: string } | null;
  state: ReportedState;
  compliance: DeviceCompliance;
  nextCheckInAt: string;
  migrationSince: string | null;
}

/**
 * The events a check-in appends, in order: the move (R20), the renewal (R15), what changed in the
 * configurations (R20, R21) and the check-in itself (R18, R25), which stays small whatever the
 * number of configurations.
 */
export function checkInEvents(r: CheckInRecord): DeviceSyncEvent[] {
  const { deviceId, plan } = r;
  const events: DeviceSyncEvent[] = [];
  if (plan.migrated) events.push({ type: 'DeviceMigrated', data: { deviceId, ...plan.migrated } });
  if (r.renewed) events.push({ type: 'MdmCertificateRenewed', data: { deviceId, ...r.renewed } });
  if (r.delta) events.push({ type: 'DeviceConfigurationsChanged', data: { deviceId, ...r.delta } });
  events.push({
    type: 'DeviceCheckedIn',
    data: {
      deviceId,
      managedBy: plan.managedBy,
      state: r.state,
      compliance: r.compliance,
      nextCheckInAt: r.nextCheckInAt,
      migration: plan.migrationState,
      migrationSince: r.migrationSince,
    },
  });
  return events;
}

/**
 * R22: the events of a check-in refused because the device's new authority has no APNs certificate:
 * DeviceMigrationBlocked at the first refusal, nothing at the ones after it while the device stays blocked.
 */
export function blockedCheckInEvents(device: { deviceId: string; migrationState: MigrationState }, refusal: MigrationBlockedByApns): DeviceSyncEvent[] {
  if (device.migrationState === 'blockedApns') return [];
  return [{ type: 'DeviceMigrationBlocked', data: { deviceId: device.deviceId, reason: 'apns', authority: refusal.authority } }];
}
