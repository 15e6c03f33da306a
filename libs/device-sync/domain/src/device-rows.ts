import { AuthorityChanged } from '@mdm/contracts/authority';
import { EventEnvelope, isEvent } from '@mdm/contracts/core';
import { DeviceRemoved, DeviceUnenrolled } from '@mdm/contracts/enrollment';
import { UserAuthorityChanged } from '@mdm/contracts/licensing';

/** A change of authority that moves nobody (R16): to the authority it had already. */
export function movesAuthority(change: { data: { from: string | null; to: string | null } }): boolean {
  return change.data.from !== change.data.to;
}

/** Which device rows a batch of other contexts' events updates in device-sync. */
export interface DeviceRowsTouched {
  /** Tenants whose every active device is marked (R16, R17). */
  tenants: string[];
  /** Users whose every active device is marked (R9 → R16). */
  users: { tenantId: string; userId: string }[];
  /** Devices unenrolled or removed (R14, R15). */
  devices: string[];
}

/**
 * The device rows these events update: the active devices of a tenant whose authority moves, of a
 * user whose authority moves, and an unenrolled or removed device. The inbox locks exactly these
 * before it applies the events (one lock order with check-ins), so this is the one place that says it.
 */
export function deviceRowsTouched(events: EventEnvelope[]): DeviceRowsTouched {
  const touched: DeviceRowsTouched = { tenants: [], users: [], devices: [] };
  for (const e of events) {
    if (isEvent(e, AuthorityChanged) && movesAuthority(e)) touched.tenants.push(e.tenantId);
    else if (isEvent(e, UserAuthorityChanged) && movesAuthority(e)) touched.users.push({ tenantId: e.tenantId, userId: e.data.userId });
    else if (isEvent(e, DeviceUnenrolled) || isEvent(e, DeviceRemoved)) touched.devices.push(e.data.deviceId);
  }
  return touched;
}
