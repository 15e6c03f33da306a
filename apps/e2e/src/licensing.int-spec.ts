import { randomUUID } from 'node:crypto';
import { eventually } from '@mdm/platform/testing';
import { TestStack } from './support/stack';
import { TestTenant, tokenFor, useStackWithTenant } from './support/tenant';

describe('directory and licenses through the gateway (R8–R10)', () => {
  const ctx = useStackWithTenant();
  let stack: TestStack;
  let tenant: TestTenant;
  beforeEach(() => ({ stack, tenant } = ctx));

  const newUser = async (groupIds: string[] = []) =>
    (await tenant.admin.post(tenant.path('/users'), { userPrincipalName: `u-${randomUUID().slice(0, 8)}@contoso.com`, groupIds })).body
      .userId as string;
  const license = (userId: string, sku: string, dryRun?: boolean) =>
    tenant.admin.post(tenant.path(`/users/${userId}/licenses`), dryRun === undefined ? { sku } : { sku, dryRun });
  const enroll = (body: object) => tenant.admin.post(tenant.path('/enrollments'), body);

  it('R8/R9: an Intune license added to a user managed by MDM for Office moves the user and their devices', async () => {
    await tenant.admin.put(tenant.path('/authority'), { authority: 'coexistence' });
    const group = await tenant.admin.post(tenant.path('/groups'), { name: 'Sales' });
    await tenant.admin.post(tenant.path('/authorities/intune/configurations'), {
      name: 'Sales VPN',
      type: 'vpn',
      platforms: ['android'],
      settings: {},
      assignedGroupIds: [group.body.groupId],
    });
    const userId = await newUser([group.body.groupId]);
    expect((await license(userId, 'O365_E3')).body).toMatchObject({ effectiveAuthority: 'office365', previousAuthority: null });
    const device = await enroll({ platform: 'android', enrollmentType: 'user', userId, serialNumber: `SN-${randomUUID()}`, osVersion: '14' });
    expect(device.body.managedBy).toBe('office365');
    await eventually(async () => expect((await tenant.admin.get(tenant.path(`/users/${userId}`))).body.devices).toEqual([device.body.deviceId]));

    const moved = await license(userId, 'EMS_E3');
    expect(moved.status).toBe(200);
    expect(moved.body).toEqual({
      userId,
      licenses: ['O365_E3', 'EMS_E3'],
      effectiveAuthority: 'intune',
      previousAuthority: 'office365',
      devicesToSwitch: 1,
      warnings: [],
      dryRun: false,
    });
    const events = await stack.licensing.runtime.store.readStream(`user-${userId}`);
    expect(events.filter((e) => e.type === 'UserAuthorityChanged').map((e) => e.data)).toContainEqual({
      userId,
      from: 'office365',
      to: 'intune',
      warnings: [],
    });
  });

  it('R10: switched to Intune with no Intune configuration on their groups: the warning; a dry run changes nothing', async () => {
    await tenant.admin.put(tenant.path('/authority'), { authority: 'coexistence' });
    const userId = await newUser();
    await license(userId, 'O365_E1');
    const dry = await license(userId, 'INTUNE_PLAN_1', true);
    expect(dry.body).toMatchObject({
      effectiveAuthority: 'intune',
      previousAuthority: 'office365',
      dryRun: true,
      warnings: [{ code: 'NO_INTUNE_CONFIGURATION_ASSIGNED', message: expect.any(String) }],
    });
    expect((await tenant.admin.get(tenant.path(`/users/${userId}`))).body).toMatchObject({ licenses: ['O365_E1'], effectiveAuthority: 'office365' });
    const real = await license(userId, 'INTUNE_PLAN_1');
    expect(real.body.warnings.map((w: { code: string }) => w.code)).toEqual(['NO_INTUNE_CONFIGURATION_ASSIGNED']);
    expect((await tenant.admin.get(tenant.path(`/users/${userId}`))).body.effectiveAuthority).toBe('intune');
  });

  it('R8: an unknown SKU is 422 UNKNOWN_SKU and changes nothing; only admins change licenses', async () => {
    await tenant.admin.put(tenant.path('/authority'), { authority: 'intune' });
    const userId = await newUser();
    const res = await license(userId, 'GOOGLE_WORKSPACE');
    expect([res.status, res.body.code]).toEqual([422, 'UNKNOWN_SKU']);
    const reader = await tokenFor(stack, tenant, 'reader');
    expect((await reader.post(tenant.path(`/users/${userId}/licenses`), { sku: 'EMS_E3' })).status).toBe(403);
    expect((await reader.get(tenant.path(`/users/${userId}`))).body).toMatchObject({ licenses: [], effectiveAuthority: null });
  });

  it('R10/R16/R17: the authority preview counts the devices a change would touch, and changes nothing', async () => {
    await tenant.admin.put(tenant.path('/authority'), { authority: 'office365' });
    const userId = await newUser();
    await license(userId, 'M365_E3');
    await enroll({ platform: 'android', enrollmentType: 'user', userId, serialNumber: `SN-${randomUUID()}`, osVersion: '14' });
    await enroll({ platform: 'windows', enrollmentType: 'bulk', serialNumber: `SN-${randomUUID()}`, osVersion: '10.0' });
    await eventually(async () => {
      const preview = await tenant.admin.post(tenant.path('/authority/preview'), { authority: 'intune' });
      expect(preview.status).toBe(200);
      expect(preview.body).toMatchObject({
        devicesToNotify: 1,
        devicesNeedingSupport: 1,
        appleDevicesBlockedWithoutApns: 0,
        warnings: [expect.objectContaining({ code: 'NO_INTUNE_CONFIGURATION_ASSIGNED', userId })],
      });
    });
    expect((await tenant.admin.get(tenant.path('/authority'))).body.authority).toBe('office365');
    const back = await tenant.admin.post(tenant.path('/authority/preview'), { authority: 'unknown' });
    expect([back.status, back.body.code]).toEqual([422, 'AUTHORITY_CANNOT_REVERT_TO_UNKNOWN']);
  });
});
