import { TenantAuthority } from '@mdm/contracts/authority';
import { ERROR_STATUS, EventRegistry, Topics, notFound } from '@mdm/contracts/core';
import { licensingEvents, userStreamId } from '@mdm/contracts/licensing';
import { NO_INTUNE_CONFIGURATION_ASSIGNED, PreviewTenant, UserState, assignLicense, licenseOutcome, removeLicense } from '@mdm/licensing/domain';
import { Sql } from '@mdm/platform/database';
import { InMemoryEventStore, RacedEventStore, refusalOf } from '@mdm/platform/testing';
import { UserDirectory, UsersService } from './users.service';

const tenantId = '6f1c1f5e-8c1a-4c53-9a7a-0d8f3a1b2c3d';
const otherTenantId = '0b7a3c2e-5d4f-4e1a-9c8b-7a6f5e4d3c2b';
const admin = 'token:1d0c9b8a-7f6e-4d5c-8b4a-3f2e1d0c9b8a';

/** The Directory's tables as the commands use them, in maps: what the licensing service learnt of tenants and devices, and its users and groups. */
class InMemoryDirectory implements UserDirectory {
  readonly tenants = new Map<string, PreviewTenant>();
  readonly groups = new Map<string, { tenantId: string; name: string }>();
  readonly rows = new Map<string, { tenantId: string; state: UserState; version: number }>();
  readonly devices: { tenantId: string; userId: string; deviceId: string }[] = [];

  constructor(readonly db: InMemoryEventStore) {}

  async catchUp(): Promise<void> {
    // Nothing to wait for: the test sets what the authority service would have published.
  }

  async tenant(_sql: Sql, tenantId: string): Promise<PreviewTenant> {
    const tenant = this.tenants.get(tenantId);
    if (!tenant) throw notFound('tenant');
    return tenant;
  }

  async knownGroups(_sql: Sql, tenantId: string, groupIds: readonly string[]): Promise<Set<string>> {
    return new Set(groupIds.filter((id) => this.groups.get(id)?.tenantId === tenantId));
  }

  async insertGroup(_sql: Sql, tenantId: string, { groupId, name }: { groupId: string; name: string }): Promise<void> {
    this.groups.set(groupId, { tenantId, name });
  }

  async principalNameTaken(_sql: Sql, tenantId: string, name: string): Promise<boolean> {
    return [...this.rows.values()].some((r) => r.tenantId === tenantId && r.state.userPrincipalName.toLowerCase() === name.toLowerCase());
  }

  async saveUser(_sql: Sql, tenantId: string, state: UserState, version: number): Promise<void> {
    this.rows.set(state.userId, { tenantId, state, version });
  }

  async users(_sql: Sql, tenantId: string): Promise<{ state: UserState; version: number }[]> {
    return [...this.rows.values()].filter((r) => r.tenantId === tenantId).map(({ state, version }) => ({ state, version }));
  }

  async devicesOf(_sql: Sql, tenantId: string, userId: string): Promise<string[]> {
    return this.devices.filter((d) => d.tenantId === tenantId && d.userId === userId).map((d) => d.deviceId);
  }
}

const registry = new EventRegistry(licensingEvents);

/** A tenant under `authority` whose group "Sales" has an Intune configuration assigned when `salesConfigured`. */
async function licensingOf(authority: TenantAuthority, { salesConfigured = false, store = new InMemoryEventStore(registry) } = {}) {
  const directory = new InMemoryDirectory(store);
  const users = new UsersService(store, directory);
  directory.tenants.set(tenantId, { authority, apnsNotAfter: {}, intuneConfiguredGroupIds: new Set() });
  const sales = await users.createGroup(tenantId, admin, 'Sales');
  if (salesConfigured) directory.tenants.get(tenantId)!.intuneConfiguredGroupIds = new Set([sales.groupId]);
  const adele = await users.create(tenantId, admin, { userPrincipalName: 'Adele@contoso.com', groupIds: [sales.groupId] });
  return { store, directory, users, sales, adele };
}

const assign = (users: UsersService, userId: string, sku: string, dryRun = false) =>
  users.execute(tenantId, userId, admin, (user, tenant) => assignLicense(user, sku, tenant), dryRun);

const published = (store: InMemoryEventStore) => store.published(Topics.licensingEvents.topic).map((e) => `${e.type}@${e.streamVersion}`);
const stream = async (store: InMemoryEventStore, userId: string) => (await store.readStream(userStreamId(userId))).map((e) => [e.type, e.data]);

describe('UsersService: user and group commands through the platform CommandHandler (in memory)', () => {
  it('R8: under intune, a license that entitles Intune makes Intune the effective authority, published and projected at the stream version', async () => {
    const { store, directory, users, adele } = await licensingOf('intune', { salesConfigured: true });
    const result = await assign(users, adele.userId, 'INTUNE_PLAN_1');
    expect(result.events).toEqual([
      { type: 'LicenseAssigned', data: { userId: adele.userId, sku: 'INTUNE_PLAN_1' } },
      { type: 'UserAuthorityChanged', data: { userId: adele.userId, from: null, to: 'intune', warnings: [] } },
    ]);
    expect(published(store)).toEqual(['GroupCreated@1', 'UserCreated@1', 'LicenseAssigned@2', 'UserAuthorityChanged@3']);
    const row = directory.rows.get(adele.userId)!;
    expect([row.version, row.state.licenses, row.state.effectiveAuthority]).toEqual([3, ['INTUNE_PLAN_1'], 'intune']);
  });

  it('R8: under intune, a license for MDM for Office only is recorded but gives no effective authority (no UserAuthorityChanged)', async () => {
    const { store, users, adele } = await licensingOf('intune');
    const { events, state } = await assign(users, adele.userId, 'O365_E3');
    expect([events.map((e) => e.type), state.effectiveAuthority]).toEqual([['LicenseAssigned'], null]);
    expect(published(store).at(-1)).toBe('LicenseAssigned@2');
  });

  it('R8: an unknown SKU is refused with 422 UNKNOWN_SKU, a license held already appends nothing, one not held cannot be removed (404)', async () => {
    const { store, users, adele } = await licensingOf('coexistence');
    const unknown = await refusalOf(assign(users, adele.userId, 'E7_DELUXE'));
    expect([ERROR_STATUS[unknown.code], unknown.code, unknown.details]).toEqual([422, 'UNKNOWN_SKU', { sku: 'E7_DELUXE' }]);
    await assign(users, adele.userId, 'O365_E3');
    expect((await assign(users, adele.userId, 'O365_E3')).events).toEqual([]);
    const notHeld = await refusalOf(users.execute(tenantId, adele.userId, admin, (user, tenant) => removeLicense(user, 'EMS_E3', tenant)));
    expect([ERROR_STATUS[notHeld.code], notHeld.code]).toEqual([404, 'NOT_FOUND']);
    expect((await stream(store, adele.userId)).map(([type]) => type)).toEqual(['UserCreated', 'LicenseAssigned', 'UserAuthorityChanged']);
  });

  it('R9: under coexistence, a license change that moves the effective authority emits UserAuthorityChanged from → to and answers the user\'s devices', async () => {
    const { directory, users, adele } = await licensingOf('coexistence', { salesConfigured: true });
    directory.devices.push({ tenantId, userId: adele.userId, deviceId: 'd1' }, { tenantId, userId: adele.userId, deviceId: 'd2' });
    await assign(users, adele.userId, 'O365_E3');
    const toIntune = await assign(users, adele.userId, 'EMS_E3');
    expect(toIntune.events.at(-1)).toEqual({ type: 'UserAuthorityChanged', data: { userId: adele.userId, from: 'office365', to: 'intune', warnings: [] } });
    expect(toIntune.devices).toEqual(['d1', 'd2']);
    expect(licenseOutcome(toIntune.before, toIntune.events)).toMatchObject({ previousAuthority: 'office365', effectiveAuthority: 'intune', moved: true });
    const back = await users.execute(tenantId, adele.userId, admin, (user, tenant) => removeLicense(user, 'EMS_E3', tenant));
    expect(back.events.at(-1)).toEqual({ type: 'UserAuthorityChanged', data: { userId: adele.userId, from: 'intune', to: 'office365', warnings: [] } });
  });

  it('R9: a tenant authority change recomputes every user: those who move get UserAuthorityChanged, projected with their stream version', async () => {
    const { store, directory, users, adele } = await licensingOf('office365');
    const ben = await users.create(tenantId, admin, { userPrincipalName: 'ben@contoso.com' });
    const carla = await users.create(tenantId, admin, { userPrincipalName: 'carla@contoso.com' });
    await assign(users, adele.userId, 'M365_E3');
    await assign(users, ben.userId, 'O365_E3');
    directory.tenants.get(tenantId)!.authority = 'intune';
    expect(await users.recomputeTenant(store, tenantId, 'service:authority')).toBe(2);
    expect((await stream(store, adele.userId)).at(-1)).toEqual([
      'UserAuthorityChanged',
      { userId: adele.userId, from: 'office365', to: 'intune', warnings: [NO_INTUNE_CONFIGURATION_ASSIGNED] },
    ]);
    expect((await stream(store, ben.userId)).at(-1)).toEqual(['UserAuthorityChanged', { userId: ben.userId, from: 'office365', to: null, warnings: [] }]);
    expect((await stream(store, carla.userId)).length).toBe(1);
    expect([directory.rows.get(adele.userId)!.version, directory.rows.get(ben.userId)!.state.effectiveAuthority]).toEqual([4, null]);
  });

  it('R10: a switch to Intune while none of the user\'s groups has an Intune configuration still happens, carrying NO_INTUNE_CONFIGURATION_ASSIGNED', async () => {
    const { users, adele } = await licensingOf('intune');
    const result = await assign(users, adele.userId, 'EMS_E5');
    expect(result.events.at(-1)).toEqual({
      type: 'UserAuthorityChanged',
      data: { userId: adele.userId, from: null, to: 'intune', warnings: [NO_INTUNE_CONFIGURATION_ASSIGNED] },
    });
    expect([result.state.effectiveAuthority, licenseOutcome(result.before, result.events).warnings.map((w) => w.code)]).toEqual([
      'intune',
      [NO_INTUNE_CONFIGURATION_ASSIGNED],
    ]);
  });

  it('R10: a dry run answers what the change would do and appends, publishes and projects nothing', async () => {
    const { store, directory, users, adele } = await licensingOf('intune');
    const before = { published: published(store), row: directory.rows.get(adele.userId) };
    const preview = await assign(users, adele.userId, 'EMS_E5', true);
    expect(preview.events.map((e) => e.type)).toEqual(['LicenseAssigned', 'UserAuthorityChanged']);
    expect(preview.state.effectiveAuthority).toBe('intune');
    expect({ published: published(store), row: directory.rows.get(adele.userId) }).toEqual(before);
    expect((await stream(store, adele.userId)).length).toBe(1);
  });

  it('R9: a license command that lost a race to another license change is decided again on the fresh user, losing neither license', async () => {
    const store = new RacedEventStore(registry);
    const { directory, users, adele } = await licensingOf('coexistence', { salesConfigured: true, store });
    store.race(1, () => [{ type: 'LicenseAssigned', data: { userId: adele.userId, sku: 'O365_E3' } }]);
    const result = await assign(users, adele.userId, 'EMS_E3');
    expect(store.appends).toBe(2);
    expect([result.state.licenses, result.state.effectiveAuthority, directory.rows.get(adele.userId)!.version]).toEqual([['O365_E3', 'EMS_E3'], 'intune', 4]);
    expect((await stream(store, adele.userId)).map(([type, data]) => `${type}:${(data as { sku?: string }).sku ?? ''}`)).toEqual([
      'UserCreated:',
      'LicenseAssigned:O365_E3',
      'LicenseAssigned:EMS_E3',
      'UserAuthorityChanged:',
    ]);
  });

  it('R7: groups are the tenant\'s own: a user\'s groups must be groups of the tenant (422 UNKNOWN_GROUP), the same set again appends nothing', async () => {
    const { store, users, sales, adele } = await licensingOf('intune');
    const support = await users.createGroup(tenantId, admin, 'Support');
    const elsewhere = '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a';
    const err = await refusalOf(users.setGroups(tenantId, adele.userId, admin, [support.groupId, elsewhere]));
    expect([ERROR_STATUS[err.code], err.code, err.details]).toEqual([422, 'UNKNOWN_GROUP', { groupIds: [elsewhere] }]);
    expect((await users.setGroups(tenantId, adele.userId, admin, [sales.groupId])).events).toEqual([]);
    const moved = await users.setGroups(tenantId, adele.userId, admin, [support.groupId, sales.groupId]);
    expect(moved.events).toEqual([{ type: 'UserGroupsChanged', data: { userId: adele.userId, groupIds: [support.groupId, sales.groupId] } }]);
    expect(published(store)).toEqual(['GroupCreated@1', 'UserCreated@1', 'GroupCreated@1', 'UserGroupsChanged@2']);
  });

  it('API.md: user principal names are unique per tenant whatever their case (409 USER_EXISTS); a user of another tenant reads as absent (404)', async () => {
    const { store, users, adele } = await licensingOf('intune');
    const taken = await refusalOf(users.create(tenantId, admin, { userPrincipalName: 'ADELE@contoso.com' }));
    expect([ERROR_STATUS[taken.code], taken.code, taken.details]).toEqual([409, 'USER_EXISTS', { userPrincipalName: 'ADELE@contoso.com' }]);
    const otherDirectory = new InMemoryDirectory(store);
    otherDirectory.tenants.set(otherTenantId, { authority: 'intune', apnsNotAfter: {}, intuneConfiguredGroupIds: new Set() });
    const ofOther = await refusalOf(assign(new UsersService(store, otherDirectory), adele.userId, 'EMS_E3'));
    expect([ERROR_STATUS[ofOther.code], ofOther.code]).toEqual([404, 'NOT_FOUND']);
    expect(published(store)).toEqual(['GroupCreated@1', 'UserCreated@1']);
  });
});
