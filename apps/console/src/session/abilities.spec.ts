import { abilitiesOf } from './abilities';

const tenant = (role: 'admin' | 'helpdesk' | 'reader' | 'enroller') => abilitiesOf({ kind: 'tenant', tenantId: 't', tokenId: 'k', role });

describe("the console's abilities follow the token's role (DESIGN.md §4)", () => {
  it('a reader reads and is offered no action', () => {
    expect(tenant('reader')).toEqual({ read: true, administer: false, remoteActions: false, enroll: false, manageTokens: false, manageTenants: false });
  });
  it('an enroller is offered enrollment only', () => {
    expect(tenant('enroller')).toEqual({ read: false, administer: false, remoteActions: false, enroll: true, manageTokens: false, manageTenants: false });
  });
  it('helpdesk reads and runs remote actions', () => {
    expect(tenant('helpdesk')).toEqual({ read: true, administer: false, remoteActions: true, enroll: false, manageTokens: false, manageTenants: false });
  });
  it('an admin does everything inside the tenant', () => {
    expect(tenant('admin')).toEqual({ read: true, administer: true, remoteActions: true, enroll: true, manageTokens: true, manageTenants: false });
  });
  it('the operator only manages tenants: its token does not act inside one', () => {
    expect(abilitiesOf({ kind: 'operator' })).toEqual({
      read: false,
      administer: false,
      remoteActions: false,
      enroll: false,
      manageTokens: false,
      manageTenants: true,
    });
  });
});
