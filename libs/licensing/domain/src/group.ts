import { conflict } from '@mdm/contracts/core';
import { LicensingEvent } from '@mdm/contracts/licensing';

export type GroupEvent = Extract<LicensingEvent, { type: 'GroupCreated' }>;

export interface GroupState {
  groupId: string;
  name: string;
  exists: boolean;
}

export const groupEvolver = {
  initial: { groupId: '', name: '', exists: false } as GroupState,
  evolve: (_state: GroupState, event: GroupEvent): GroupState => ({ groupId: event.data.groupId, name: event.data.name, exists: true }),
};

/** A user group of the tenant; configurations are assigned to groups (R7, R10). Its id is new, so it cannot exist yet. */
export function createGroup(state: GroupState, cmd: { groupId: string; name: string }): GroupEvent[] {
  if (state.exists) throw conflict('GROUP_EXISTS', `group ${cmd.groupId} exists`);
  return [{ type: 'GroupCreated', data: { groupId: cmd.groupId, name: cmd.name } }];
}
