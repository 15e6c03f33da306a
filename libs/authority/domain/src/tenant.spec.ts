import { ERROR_STATUS } from '@mdm/contracts/core';
import { refusal } from '@mdm/platform/testing';
import { TenantEvent } from '@mdm/contracts/authority';
import {
  TenantHistoryEvent,
  TenantState,
  createTenant,
  grantConsent,
  initialTenant,
  setAuthority,
  setCoManagement,
  tenantEvolver,
  bannerVisible,
} from './tenant';

const tenantId = '6f1c1f5e-8c1a-4c53-9a7a-0d8f3a1b2c3d';
const at = '2026-05-01T12:00:00.000Z';

/** Given these events, the state a decision sees. */
function given(...events: TenantEvent[]): TenantState {
  return events.map((e) => ({ ...e, occurredAt: at }) as TenantHistoryEvent).reduce(tenantEvolver.evolve, initialTenant);
}

const created: TenantEvent = { type: 'TenantCreated', data: { tenantId, name: 'Contoso' } };
const changed = (from: string, to: string) => ({ type: 'AuthorityChanged', data: { from, to } }) as TenantEvent;


describe('tenant decisions (pure)', () => {
  it('R1: a created tenant has authority unknown and the banner shows', () => {
    const state = given(created);
    expect(state.authority).toBe('unknown');
    expect(bannerVisible(state)).toBe(true);
  });

  it('R1: creating the same tenant again is a retry and emits nothing; another name is TENANT_EXISTS', () => {
    expect(createTenant(given(created), { tenantId, name: 'Contoso' })).toEqual([]);
    expect(refusal(() => createTenant(given(created), { tenantId, name: 'Fabrikam' })).code).toBe('TENANT_EXISTS');
  });

  it('R2/R4: setting an authority emits AuthorityChanged { from, to }', () => {
    expect(setAuthority(given(created), 1, { authority: 'coexistence' })).toEqual([changed('unknown', 'coexistence')]);
    expect(setAuthority(given(created, changed('unknown', 'office365')), 2, { authority: 'intune' })).toEqual([
      changed('office365', 'intune'),
    ]);
  });

  it('R3: never back to unknown; the current value again emits nothing', () => {
    const state = given(created, changed('unknown', 'intune'));
    const err = refusal(() => setAuthority(state, 2, { authority: 'unknown' }));
    expect([ERROR_STATUS[err.code], err.code]).toEqual([422, 'AUTHORITY_CANNOT_REVERT_TO_UNKNOWN']);
    expect(setAuthority(state, 2, { authority: 'intune' })).toEqual([]);
  });

  it('R3: a stale expectedVersion conflicts even when the value is the current one', () => {
    const state = given(created, changed('unknown', 'intune'));
    const err = refusal(() => setAuthority(state, 2, { authority: 'intune', expectedVersion: 1 }));
    expect([ERROR_STATUS[err.code], err.code, err.details]).toEqual([409, 'VERSION_CONFLICT', { expectedVersion: 1, actualVersion: 2 }]);
  });

  it('R2: co-management needs intune or coexistence, and then blocks a switch to office365', () => {
    expect(refusal(() => setCoManagement(given(created), 1, { enabled: true, autoEnrollment: false })).code).toBe(
      'CO_MANAGEMENT_REQUIRES_INTUNE',
    );
    const intune = given(created, changed('unknown', 'intune'));
    const [event] = setCoManagement(intune, 2, { enabled: true, autoEnrollment: true, workloads: { clientApps: 'intune' } });
    expect(event.type).toBe('CoManagementChanged');
    const coManaged = given(created, changed('unknown', 'intune'), event);
    expect(coManaged.coManagement.workloads).toMatchObject({ clientApps: 'intune', compliancePolicies: 'configMgr' });
    expect(refusal(() => setAuthority(coManaged, 3, { authority: 'office365' })).code).toBe('CO_MANAGEMENT_REQUIRES_INTUNE');
    expect(setCoManagement(coManaged, 3, { enabled: true, autoEnrollment: true })).toEqual([]);
    // Disabling is always allowed.
    expect(setCoManagement(coManaged, 3, { enabled: false, autoEnrollment: false })).toHaveLength(1);
  });

  it('R5: a consent is granted once, with its actor', () => {
    expect(grantConsent(given(created), { kind: 'appleDep', actor: 'token:1' })).toEqual([
      { type: 'ConsentGranted', data: { kind: 'appleDep', actor: 'token:1' } },
    ]);
    const granted = given(created, { type: 'ConsentGranted', data: { kind: 'appleDep', actor: 'token:1' } });
    expect(granted.consents.appleDep).toEqual({ grantedAt: at, grantedBy: 'token:1' });
    expect(grantConsent(granted, { kind: 'appleDep', actor: 'token:2' })).toEqual([]);
  });

  it('a command on a tenant that does not exist is a 404', () => {
    expect(ERROR_STATUS[refusal(() => setAuthority(initialTenant, 0, { authority: 'intune' })).code]).toBe(404);
  });
});
