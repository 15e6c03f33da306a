import { LicensingEvent } from '@mdm/contracts/licensing';

export type GroupEvent = Extract<LicensingEvent, { type: 'GroupCreated' }>;

/** A user group of the tenant; configurations are assigned to groups (R7, R10). */
export function createGroup(cmd: { groupId: string; name: string }): GroupEvent[] {
  return [{ type: 'GroupCreated', data: { groupId: cmd.groupId, name: cmd.name } }];
}
