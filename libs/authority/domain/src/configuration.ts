import { ConfigurationEvent, ConfigurationType, ManagingAuthority, Platform } from '@mdm/contracts/authority';
import { notFound } from '@mdm/contracts/core';
import { checkExpectedVersion } from './tenant';

export interface ConfigurationContent {
  name: string;
  type: ConfigurationType;
  platforms: Platform[];
  settings: Record<string, unknown>;
  assignedGroupIds: string[];
}

export interface ConfigurationState extends ConfigurationContent {
  exists: boolean;
  deleted: boolean;
  configurationId: string;
  authority: ManagingAuthority;
  version: number;
}

export const initialConfiguration: ConfigurationState = {
  exists: false,
  deleted: false,
  configurationId: '',
  authority: 'intune',
  version: 0,
  name: '',
  type: 'configuration',
  platforms: [],
  settings: {},
  assignedGroupIds: [],
};

export function evolveConfiguration(state: ConfigurationState, event: ConfigurationEvent): ConfigurationState {
  switch (event.type) {
    case 'ConfigurationCreated':
    case 'ConfigurationUpdated':
      return { ...state, ...event.data, exists: true, deleted: false };
    case 'ConfigurationDeleted':
      return { ...state, deleted: true, version: event.data.version };
  }
}

export const configurationEvolver = { initial: initialConfiguration, evolve: evolveConfiguration };

/** A configuration is addressed through its tenant and authority; any other path is a 404. */
export function assertLive(state: ConfigurationState, authority: ManagingAuthority): void {
  if (!state.exists || state.deleted || state.authority !== authority) throw notFound('configuration');
}

/** R7 */
export function createConfiguration(cmd: {
  configurationId: string;
  authority: ManagingAuthority;
  content: ConfigurationContent;
}): ConfigurationEvent[] {
  return [
    {
      type: 'ConfigurationCreated',
      data: { configurationId: cmd.configurationId, authority: cmd.authority, ...cmd.content, version: 1 },
    },
  ];
}

export function updateConfiguration(
  state: ConfigurationState,
  cmd: { authority: ManagingAuthority; content: ConfigurationContent; expectedVersion?: number },
): ConfigurationEvent[] {
  assertLive(state, cmd.authority);
  checkExpectedVersion(state.version, cmd.expectedVersion);
  return [
    {
      type: 'ConfigurationUpdated',
      data: { configurationId: state.configurationId, authority: state.authority, ...cmd.content, version: state.version + 1 },
    },
  ];
}

export function deleteConfiguration(state: ConfigurationState, authority: ManagingAuthority): ConfigurationEvent[] {
  assertLive(state, authority);
  return [
    {
      type: 'ConfigurationDeleted',
      data: { configurationId: state.configurationId, authority, version: state.version + 1 },
    },
  ];
}
