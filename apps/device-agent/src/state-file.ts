import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export type Platform = 'ios' | 'ipados' | 'macos' | 'android' | 'windows';

export interface DeviceState {
  osVersion: string;
  encrypted: boolean;
  jailbroken: boolean;
  passcodeSet: boolean;
}

export interface CommandResult {
  commandId: string;
  status: 'done' | 'failed';
  error?: string;
}

/** One simulated device as the state file keeps it: everything it needs to carry on after a restart. */
export interface DeviceRecord {
  deviceId: string;
  serialNumber: string;
  platform: Platform;
  userId: string | null;
  /** `dc_…`: the device's only proof of identity today; the state file is as secret as it is. */
  credential: string;
  /** The device's own P-256 key, PKCS#8 DER in base64. */
  key: string;
  /** The key of a renewal's CSR, until the new certificate for it arrives (R15). */
  renewalKey?: string;
  certificate: { serial: string; notAfter: string; pem?: string };
  managedBy: string;
  /** The server's last word on the schedule (R18); null before the first check-in. */
  nextCheckInAt: string | null;
  state: DeviceState;
  /** Results of remote actions not yet reported. */
  pendingResults: CommandResult[];
  /** remoteLock ran. */
  locked: boolean;
  /** The server no longer knows the credential (unenrolled, removed, wiped): the device stops. */
  removed: boolean;
}

export interface FleetState {
  version: 1;
  gateway: string;
  tenantId: string;
  /** For the summary's views (and the admin calls of a tenant the agent made). */
  adminToken?: string;
  /** Admin or enroller: the token enrollments are made with. */
  enrollToken?: string;
  /** The users devices are enrolled for, in turn; empty: userless (bulk) devices. */
  users: string[];
  devices: DeviceRecord[];
}

export function loadState(file: string): FleetState | undefined {
  if (!existsSync(file)) return undefined;
  const state = JSON.parse(readFileSync(file, 'utf8')) as FleetState;
  if (state.version !== 1 || !Array.isArray(state.devices)) throw new Error(`${file}: not a device-agent state file (version 1)`);
  return state;
}

/**
 * Written whole to a file next to it, then renamed over it: a crash mid-write leaves the previous
 * state. Readable by its owner only: it holds device credentials, private keys and tokens.
 */
export function saveState(file: string, state: FleetState): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
  renameSync(tmp, file);
}
