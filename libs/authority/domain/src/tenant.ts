import {
  ConsentKind,
  CoManagementWorkload,
  ManagingAuthority,
  TenantAuthority,
  TenantEvent,
  Workloads,
  coManagementWorkloadSchema,
} from '@mdm/contracts/authority';
import { DomainError, conflict, notFound, ruleViolation } from '@mdm/contracts/core';
import { ApnsCertificate, parseApnsCertificate } from './apns-certificate';

export interface TenantState {
  exists: boolean;
  tenantId: string;
  name: string;
  authority: TenantAuthority;
  changedAt: string | null;
  coManagement: { enabled: boolean; autoEnrollment: boolean; workloads: Workloads };
  apnsCertificates: Partial<Record<ManagingAuthority, ApnsCertificate>>;
  consents: Partial<Record<ConsentKind, { grantedAt: string; grantedBy: string }>>;
}

/** A stored tenant event with the time it happened (what evolve needs of the envelope). */
export type TenantHistoryEvent = TenantEvent & { occurredAt: string };

/** Workloads move to Configuration Manager's hands when co-management is first enabled, as in Intune. */
export const DEFAULT_WORKLOADS: Workloads = Object.fromEntries(
  coManagementWorkloadSchema.options.map((w) => [w, 'configMgr']),
) as Workloads;

export const initialTenant: TenantState = {
  exists: false,
  tenantId: '',
  name: '',
  authority: 'unknown',
  changedAt: null,
  coManagement: { enabled: false, autoEnrollment: false, workloads: DEFAULT_WORKLOADS },
  apnsCertificates: {},
  consents: {},
};

export function evolveTenant(state: TenantState, event: TenantHistoryEvent): TenantState {
  switch (event.type) {
    case 'TenantCreated':
      return { ...state, exists: true, tenantId: event.data.tenantId, name: event.data.name };
    case 'AuthorityChanged':
      return { ...state, authority: event.data.to, changedAt: event.occurredAt };
    case 'CoManagementChanged':
      return { ...state, coManagement: { ...event.data, workloads: { ...event.data.workloads } as Workloads } };
    case 'ConsentGranted':
      return {
        ...state,
        consents: { ...state.consents, [event.data.kind]: { grantedAt: event.occurredAt, grantedBy: event.data.actor } },
      };
    case 'ApnsCertificateUploaded': {
      const { authority, ...certificate } = event.data;
      return { ...state, apnsCertificates: { ...state.apnsCertificates, [authority]: certificate } };
    }
  }
}

export const tenantEvolver = { initial: initialTenant, evolve: evolveTenant };

// ---- decisions: each returns the events to append (none when nothing changes) or throws a DomainError ----

export function assertExists(state: TenantState): void {
  if (!state.exists) throw notFound('tenant');
}

/** Creating a tenant that exists with the same name is a retry and emits nothing. */
export function createTenant(state: TenantState, cmd: { tenantId: string; name: string }): TenantEvent[] {
  if (state.exists) {
    if (state.name === cmd.name) return [];
    throw conflict('TENANT_EXISTS', `tenant ${cmd.tenantId} exists`);
  }
  return [{ type: 'TenantCreated', data: { tenantId: cmd.tenantId, name: cmd.name } }];
}

export function checkExpectedVersion(version: number, expected: number | undefined): void {
  if (expected !== undefined && expected !== version) {
    throw new DomainError('VERSION_CONFLICT', `the current version is ${version}, not ${expected}`, {
      expectedVersion: expected,
      actualVersion: version,
    });
  }
}

const supportsCoManagement = (authority: TenantAuthority) => authority === 'intune' || authority === 'coexistence';

/** R2–R4 */
export function setAuthority(
  state: TenantState,
  version: number,
  cmd: { authority: TenantAuthority; expectedVersion?: number },
): TenantEvent[] {
  assertExists(state);
  checkExpectedVersion(version, cmd.expectedVersion);
  if (cmd.authority === state.authority) return []; // R3: the same value again changes nothing
  if (cmd.authority === 'unknown') {
    throw ruleViolation('AUTHORITY_CANNOT_REVERT_TO_UNKNOWN', 'the MDM authority cannot be set back to unknown');
  }
  if (state.coManagement.enabled && !supportsCoManagement(cmd.authority)) {
    throw ruleViolation(
      'CO_MANAGEMENT_REQUIRES_INTUNE',
      `co-management needs Intune: disable it before switching to ${cmd.authority}`,
    );
  }
  return [{ type: 'AuthorityChanged', data: { from: state.authority, to: cmd.authority } }];
}

/** R2: co-management sits on top of intune or coexistence. */
export function setCoManagement(
  state: TenantState,
  version: number,
  cmd: {
    enabled: boolean;
    autoEnrollment: boolean;
    workloads?: Partial<Record<CoManagementWorkload, 'configMgr' | 'intune'>>;
    expectedVersion?: number;
  },
): TenantEvent[] {
  assertExists(state);
  checkExpectedVersion(version, cmd.expectedVersion);
  if (cmd.enabled && !supportsCoManagement(state.authority)) {
    throw ruleViolation(
      'CO_MANAGEMENT_REQUIRES_INTUNE',
      `co-management needs the authority intune or coexistence, the tenant's is ${state.authority}`,
    );
  }
  const next = {
    enabled: cmd.enabled,
    autoEnrollment: cmd.autoEnrollment,
    workloads: { ...state.coManagement.workloads, ...cmd.workloads } as Workloads,
  };
  if (JSON.stringify(next) === JSON.stringify(state.coManagement)) return [];
  return [{ type: 'CoManagementChanged', data: next }];
}

/** R5: a consent is recorded once; granting it again emits nothing. */
export function grantConsent(state: TenantState, cmd: { kind: ConsentKind; actor: string }): TenantEvent[] {
  assertExists(state);
  if (state.consents[cmd.kind]) return [];
  return [{ type: 'ConsentGranted', data: { kind: cmd.kind, actor: cmd.actor } }];
}

export function requireConsent(state: TenantState, kind: ConsentKind, action: string): void {
  if (!state.consents[kind]) {
    throw ruleViolation('CONSENT_REQUIRED', `${action} needs the admin's consent ${kind}`, { consent: kind });
  }
}

/** R5, R6: consent first, then the certificate itself; the same certificate again emits nothing. */
export function uploadApnsCertificate(
  state: TenantState,
  cmd: { authority: ManagingAuthority; certificatePem: string; now: Date },
): TenantEvent[] {
  assertExists(state);
  requireConsent(state, 'appleMdmPush', 'uploading an APNs certificate');
  const certificate = parseApnsCertificate(cmd.certificatePem, cmd.now);
  const current = state.apnsCertificates[cmd.authority];
  if (current && current.serial === certificate.serial && current.notAfter === certificate.notAfter) return [];
  return [{ type: 'ApnsCertificateUploaded', data: { authority: cmd.authority, ...certificate } }];
}

/** R1: the banner shows while no authority is chosen. */
export const bannerVisible = (state: TenantState) => state.authority === 'unknown';
