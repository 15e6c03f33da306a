import { ERROR_STATUS } from '@mdm/contracts/core';
import { refusal } from '@mdm/platform/testing';
import { userFixture } from './user.fixture';
import { randomUUID } from 'node:crypto';
import {
  TenantContext,
  UserEvent,
  UserState,
  assignLicense,
  createUser,
  initialUser,
  licenseOutcome,
  removeLicense,
  setGroups,
  userEvolver,
} from './user';
import { recomputeTenant } from './tenant-recompute';
import { NO_INTUNE_CONFIGURATION_ASSIGNED } from './warnings';

const userId = randomUUID();
const staff = randomUUID();
const sales = randomUUID();

const tenant = (authority: TenantContext['authority'], intuneGroups: string[] = []): TenantContext => ({
  authority,
  intuneConfiguredGroupIds: new Set(intuneGroups),
});

const created: UserEvent = {
  type: 'UserCreated',
  data: { userId, userPrincipalName: 'ada@contoso.com', displayName: 'Ada', groupIds: [staff] },
};

function given(...events: UserEvent[]): UserState {
  return events.reduce(userEvolver.evolve, initialUser);
}

/** Applies the events a decision returns, as the store would. */
function after(state: UserState, events: UserEvent[]): UserState {
  return events.reduce(userEvolver.evolve, state);
}


describe('user decisions (pure)', () => {
  it('a created user has no licenses and no effective authority', () => {
    const events = createUser(
      { userId, userPrincipalName: 'ada@contoso.com', displayName: 'Ada', groupIds: [staff, staff] },
      { principalNameTaken: false, knownGroupIds: new Set([staff]) },
    );
    expect(events).toEqual([created]);
    expect(given(...events)).toMatchObject({ exists: true, licenses: [], groupIds: [staff], effectiveAuthority: null });
  });

  it('a taken user principal name is 409 USER_EXISTS; a group not of the tenant is 422 UNKNOWN_GROUP', () => {
    const taken = refusal(() => createUser({ userId, userPrincipalName: 'ADA@contoso.com' }, { principalNameTaken: true, knownGroupIds: new Set() }));
    expect([ERROR_STATUS[taken.code], taken.code]).toEqual([409, 'USER_EXISTS']);
    const stranger = randomUUID();
    const unknown = refusal(() =>
      createUser({ userId, userPrincipalName: 'ada@contoso.com', groupIds: [staff, stranger] }, { principalNameTaken: false, knownGroupIds: new Set([staff]) }),
    );
    expect([ERROR_STATUS[unknown.code], unknown.code, unknown.details]).toEqual([422, 'UNKNOWN_GROUP', { groupIds: [stranger] }]);
    expect(refusal(() => setGroups(given(created), [stranger], new Set())).code).toBe('UNKNOWN_GROUP');
  });

  it('setting the same groups again emits nothing; other groups emit UserGroupsChanged', () => {
    const state = given(created);
    expect(setGroups(state, [staff], new Set([staff]))).toEqual([]);
    expect(setGroups(state, [sales, staff], new Set([staff, sales]))).toEqual([
      { type: 'UserGroupsChanged', data: { userId, groupIds: [sales, staff] } },
    ]);
  });

  it('R8: an unknown SKU is 422 UNKNOWN_SKU', () => {
    const err = refusal(() => assignLicense(given(created), 'M365_E7', tenant('intune')));
    expect([ERROR_STATUS[err.code], err.code]).toEqual([422, 'UNKNOWN_SKU']);
  });

  it('R9: an Intune license added to a user managed by MDM for Office moves them: UserAuthorityChanged { from, to }', () => {
    const office = tenant('coexistence', [staff]);
    const first = assignLicense(given(created), 'O365_E3', office);
    expect(first).toEqual([
      { type: 'LicenseAssigned', data: { userId, sku: 'O365_E3' } },
      { type: 'UserAuthorityChanged', data: { userId, from: null, to: 'office365', warnings: [] } },
    ]);
    const onOffice = after(given(created), first);
    const second = assignLicense(onOffice, 'EMS_E5', office);
    expect(second).toEqual([
      { type: 'LicenseAssigned', data: { userId, sku: 'EMS_E5' } },
      { type: 'UserAuthorityChanged', data: { userId, from: 'office365', to: 'intune', warnings: [] } },
    ]);
    expect(licenseOutcome(onOffice, second)).toMatchObject({
      previousAuthority: 'office365',
      effectiveAuthority: 'intune',
      moved: true,
      warnings: [],
    });
  });

  it('R9: a license that does not move the effective authority emits only the license event', () => {
    const state = after(given(created), assignLicense(given(created), 'EMS_E3', tenant('intune', [staff])));
    expect(assignLicense(state, 'M365_E5', tenant('intune', [staff]))).toEqual([
      { type: 'LicenseAssigned', data: { userId, sku: 'M365_E5' } },
    ]);
  });

  it('R9: removing the last entitling license moves the user to no authority', () => {
    const state = after(given(created), assignLicense(given(created), 'EMS_E3', tenant('intune', [staff])));
    expect(state.effectiveAuthority).toBe('intune');
    expect(removeLicense(state, 'EMS_E3', tenant('intune', [staff]))).toEqual([
      { type: 'LicenseRemoved', data: { userId, sku: 'EMS_E3' } },
      { type: 'UserAuthorityChanged', data: { userId, from: 'intune', to: null, warnings: [] } },
    ]);
  });

  it('R9: a license already held changes nothing; removing one not held is 404 NOT_FOUND', () => {
    const state = after(given(created), assignLicense(given(created), 'O365_E1', tenant('office365')));
    expect(assignLicense(state, 'O365_E1', tenant('office365'))).toEqual([]);
    const err = refusal(() => removeLicense(state, 'EMS_E3', tenant('office365')));
    expect([ERROR_STATUS[err.code], err.code]).toEqual([404, 'NOT_FOUND']);
    expect(ERROR_STATUS[refusal(() => removeLicense(state, 'NOT_A_SKU', tenant('office365'))).code]).toBe(404);
  });

  it('R10: a switch to Intune with no Intune configuration on any of the user\'s groups carries NO_INTUNE_CONFIGURATION_ASSIGNED', () => {
    const events = assignLicense(given(created), 'INTUNE_PLAN_1', tenant('intune', [sales]));
    expect(events[1]).toEqual({
      type: 'UserAuthorityChanged',
      data: { userId, from: null, to: 'intune', warnings: [NO_INTUNE_CONFIGURATION_ASSIGNED] },
    });
    expect(licenseOutcome(given(created), events).warnings).toEqual([
      { code: NO_INTUNE_CONFIGURATION_ASSIGNED, message: expect.stringContaining('Intune configuration') },
    ]);
    // A switch to office365 never carries it.
    expect(assignLicense(given(created), 'O365_E1', tenant('office365'))[1]).toMatchObject({ data: { warnings: [] } });
  });

  it('R10: with an Intune configuration assigned to one of the user\'s groups, no warning', () => {
    const events = assignLicense(given(created), 'INTUNE_PLAN_1', tenant('intune', [staff]));
    expect(events[1]).toMatchObject({ data: { to: 'intune', warnings: [] } });
  });

  it('a command on a user that does not exist is a 404', () => {
    expect(ERROR_STATUS[refusal(() => assignLicense(initialUser, 'EMS_E3', tenant('intune'))).code]).toBe(404);
    expect(ERROR_STATUS[refusal(() => setGroups(initialUser, [], new Set())).code]).toBe(404);
  });
});

describe('tenant authority recompute (pure)', () => {
  const user = userFixture;

  it('R9: on an authority change, every user whose effective authority moves gets UserAuthorityChanged, the others nothing', () => {
    const office = user(['O365_E3'], 'office365');
    const both = user(['M365_E3'], 'office365', [staff]);
    const intuneOnly = user(['EMS_E3'], null);
    const unlicensed = user([], null);
    const moves = recomputeTenant([office, both, intuneOnly, unlicensed], tenant('intune', [staff]));
    expect(moves).toEqual([
      { userId: office.userId, events: [{ type: 'UserAuthorityChanged', data: { userId: office.userId, from: 'office365', to: null, warnings: [] } }] },
      { userId: both.userId, events: [{ type: 'UserAuthorityChanged', data: { userId: both.userId, from: 'office365', to: 'intune', warnings: [] } }] },
      {
        userId: intuneOnly.userId,
        events: [
          {
            type: 'UserAuthorityChanged',
            data: { userId: intuneOnly.userId, from: null, to: 'intune', warnings: [NO_INTUNE_CONFIGURATION_ASSIGNED] },
          },
        ],
      },
    ]);
  });

  it('R8/R9: the first authority (from unknown) gives licensed users their effective authority', () => {
    const moves = recomputeTenant([user(['O365_E1'], null), user(['EMS_E3'], null)], tenant('coexistence', [staff]));
    expect(moves.map((m) => m.events[0].data.to)).toEqual(['office365', 'intune']);
  });
});
