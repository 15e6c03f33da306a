import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { selfSignedCertificatePem } from '@mdm/platform/testing';
import { buttonNames, consoleBuild, launchBrowser, screenshot, seriousViolations, signIn, tabTo, untilText } from './support/browser';
import { DeviceClient } from './support/device-client';
import { TestStack, startStack } from './support/stack';
import { TestTenant, createTenant, createUser, enrollDevice } from './support/tenant';

const DAY = 86_400_000;
const healthy = { osVersion: '14.0', encrypted: true, jailbroken: false, passcodeSet: true };

/** A user with a license entitling both services and an enrolled Android device that checked in once. */
async function enrolledDevice(stack: TestStack, tenant: TestTenant, groupIds: string[] = []) {
  const userId = (await tenant.admin.post(tenant.path('/users'), { userPrincipalName: `${randomUUID()}@contoso.com`, groupIds })).body.userId;
  expect((await tenant.admin.post(tenant.path(`/users/${userId}/licenses`), { sku: 'M365_E3' })).status).toBe(200);
  const enrolled = await enrollDevice(tenant, { platform: 'android', enrollmentType: 'user', userId, deviceName: 'Alice Pixel', osVersion: '14' });
  const device = new DeviceClient(stack.gateway.url, enrolled.deviceCredential);
  expect((await device.checkIn(healthy)).status).toBe(200);
  return { deviceId: enrolled.deviceId, device, userId: userId as string };
}

/** A new token of the tenant with the role, as the admin would hand it to a colleague. */
async function tokenOf(tenant: TestTenant, role: string): Promise<string> {
  const res = await tenant.admin.post(tenant.path('/tokens'), { role });
  expect(res.status).toBe(201);
  return res.body.token;
}

describe('the admin console in a real browser (Chromium, the whole stack behind the gateway)', () => {
  let stack: TestStack;
  let browser: Browser;

  /** A console tab signed in with a new token of the tenant with the role. */
  const signInAs = async (tenant: TestTenant, role: string) => signIn(browser, stack.gateway.url, await tokenOf(tenant, role));

  beforeAll(async () => {
    if (!existsSync(consoleBuild)) throw new Error(`no console build at ${consoleBuild}: run npx nx build console (npm test does)`);
    browser = await launchBrowser();
    stack = await startStack();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("the admin's story: the banner, the choice with its preview, APNs and a configuration, the device migrating on the dashboard, a remote lock live", async () => {
    const tenant = await createTenant(stack, 'Contoso');
    const page = await signInAs(tenant, 'admin');

    // 1. A new tenant: the orange banner (R1).
    const banner = page.getByTestId('authority-banner');
    expect(await untilText(banner, /Mobile device management authority: Unknown/)).toBeTruthy();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, '1-banner');

    // Before the console's story, the tenant ran MDM for Office 365 with one enrolled device (through the API).
    expect((await tenant.admin.put(tenant.path('/authority'), { authority: 'office365' })).status).toBe(200);
    const groupId = (await tenant.admin.post(tenant.path('/groups'), { name: 'Field' })).body.groupId;
    const { deviceId, device } = await enrolledDevice(stack, tenant, [groupId]);
    await page.reload();
    await untilText(page.getByTestId('authority'), /Basic Mobility and Security/);
    expect(await banner.count()).toBe(0);

    // 2. Choosing Intune, by keyboard only: the options, then the preview, then the switch.
    await tabTo(page, /^Change MDM authority$/);
    await page.keyboard.press('Enter');
    const intune = page.getByRole('radio', { name: /Intune MDM authority/ });
    await intune.focus();
    await page.keyboard.press('Space');
    expect(await untilText(page.getByTestId('preview-notify'), /^1$/)).toBe('1');
    expect(await page.getByTestId('preview-support').textContent()).toBe('0');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, '2-preview');
    await tabTo(page, /^Confirm Intune MDM authority$/);
    await page.keyboard.press('Enter');
    await untilText(page.getByTestId('authority'), /^Intune MDM authority$/);

    // 3. Upload an APNs certificate (after the Apple consent) and create a configuration.
    await page.getByRole('button', { name: 'Grant consent: Apple MDM push certificate (Apple)' }).click();
    await page.getByText('granted').first().waitFor();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'apns-'));
    const pem = path.join(dir, 'push.pem');
    writeFileSync(pem, await selfSignedCertificatePem({ subject: 'CN=APSP:contoso-push', notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 20 * DAY) }));
    // Chromium is handed the file's path and reads it when the page does, so the file stays until
    // the upload has been answered.
    await page.getByTestId('apns-file-intune').setInputFiles(pem);
    // It expires within 30 days: the console warns (R6).
    expect(await untilText(page.getByTestId('apns-intune'), /CN=APSP:contoso-push.*expires in/)).toBeTruthy();
    rmSync(dir, { recursive: true });
    await page.getByRole('tab', { name: 'Configurations' }).click();
    await page.getByLabel('Name').fill('Field Wi-Fi');
    await page.getByRole('checkbox', { name: 'android' }).check();
    await page.getByLabel('Assigned group ids').fill(groupId);
    await page.getByRole('button', { name: 'Create configuration' }).click();
    expect(await untilText(page.getByTestId('configuration-row'), /Field Wi-Fi.*android/)).toBeTruthy();
    expect(await seriousViolations(page)).toEqual([]);

    // 4. The device checks in (through the API) and the dashboard shows it migrated, by itself.
    await page.getByRole('tab', { name: 'Migration' }).click();
    await untilText(page.getByTestId('count-pendingCheckIn'), /^1/);
    const checkedIn = await device.checkIn(healthy);
    expect(checkedIn.body).toMatchObject({ managedBy: 'intune', configurations: [{ name: 'Field Wi-Fi', authority: 'intune' }] });
    expect(await untilText(page.getByTestId('count-migrated'), /^1Migrated/)).toBeTruthy();
    expect(await untilText(page.getByTestId('freshness'), /As of .* ago/)).toBeTruthy();
    await page.locator('.recharts-surface').first().waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, '4-dashboard');

    // 5. A remote lock goes pending → sent → done on screen.
    await page.getByRole('tab', { name: 'Devices' }).click();
    await page.getByRole('link', { name: deviceId }).click();
    await untilText(page.getByTestId('device-migration'), /migrated/);
    await page.getByRole('button', { name: 'Remote lock' }).click();
    const status = page.getByTestId('action-status');
    expect(await untilText(status, /^pending$/)).toBe('pending');
    const delivered = await device.checkIn(healthy);
    const [command] = delivered.body.commands;
    expect(command.type).toBe('remoteLock');
    expect(await untilText(status, /^sent$/)).toBe('sent');
    await device.checkIn(healthy, [{ commandId: command.commandId, status: 'done' }]);
    expect(await untilText(status, /^done$/)).toBe('done');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, '5-remote-lock');

    // A wipe needs the device's name typed.
    await page.getByRole('button', { name: 'Wipe', exact: true }).click();
    const wipe = page.getByRole('button', { name: 'Wipe the device' });
    expect(await wipe.isDisabled()).toBe(true);
    await page.getByRole('alertdialog').getByRole('textbox').fill('Alice Pixel');
    expect(await wipe.isDisabled()).toBe(false);
    await page.getByRole('button', { name: 'Cancel' }).click();

    // Tokens: issue a reader token, see it listed, revoke it.
    await page.getByRole('tab', { name: 'Tokens' }).click();
    await page.getByRole('button', { name: 'Issue reader token' }).click();
    await page.getByTestId('new-token').waitFor();
    const readerRow = page.getByTestId('token-row').filter({ hasText: 'reader' });
    await readerRow.getByRole('button').click();
    await untilText(page.getByRole('table', { name: 'Live tokens' }), /^(?!.*reader)/);
    expect(await page.getByTestId('token-row').count()).toBe(2); // the tenant's first admin token and this session's
    expect(await seriousViolations(page)).toEqual([]);

    // Signing out forgets the token: the tab shows the sign-in page again, also after a reload.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.close();
  }, 240_000);

  it('a change by someone else while the admin chooses: the 409 shows "changed by someone else" and the state reloads', async () => {
    const tenant = await createTenant(stack, 'Concurrent');
    const page = await signInAs(tenant, 'admin');
    await page.getByTestId('authority-banner').getByRole('button', { name: 'Choose MDM authority' }).click();
    await page.getByRole('radio', { name: /Coexistence/ }).check();
    await page.getByTestId('authority-preview').waitFor();
    // Meanwhile another admin chooses Intune.
    expect((await tenant.admin.put(tenant.path('/authority'), { authority: 'intune' })).status).toBe(200);
    await page.getByRole('button', { name: /^Confirm Coexistence/ }).click();
    expect(await untilText(page.getByTestId('authority-conflict'), /Changed by someone else/)).toBeTruthy();
    expect(await untilText(page.getByTestId('authority'), /^Intune MDM authority$/)).toBeTruthy();
    expect((await tenant.admin.get(tenant.path('/authority'))).body.authority).toBe('intune');
    await page.close();
  }, 120_000);

  it("the operator's first steps: create a tenant, then sign in as its admin and see the banner", async () => {
    const page = await signIn(browser, stack.gateway.url, stack.operatorToken);
    expect(await page.getByRole('tab').allInnerTexts()).toEqual(['Tenants']);
    await page.getByLabel('Tenant name').fill('Fabrikam');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    const adminToken = (await page.getByTestId('admin-token').textContent())!;
    expect(adminToken).toMatch(/^mdm_/);
    // The list of every tenant shows the new one, its banner still up (authority unknown).
    const fabrikam = page.getByTestId('tenant-row').filter({ hasText: 'Fabrikam' });
    expect(await untilText(fabrikam, /Fabrikam.*unknown/)).toBeTruthy();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'operator-tenants');
    await page.getByRole('button', { name: "Sign in as Fabrikam's admin" }).click();
    await untilText(page.getByTestId('authority-banner'), /Mobile device management authority: Unknown/);
    expect(await page.getByTestId('role').textContent()).toBe('admin');
    await page.close();
  }, 120_000);

  it('R10: a license change is previewed (dry run, with the warning) before it is assigned', async () => {
    const tenant = await createTenant(stack, 'Licensed', 'coexistence');
    const userId = await createUser(tenant, 'olga@contoso.com', 'O365_E3');
    const page = await signInAs(tenant, 'admin');
    await page.getByRole('tab', { name: 'Users and licenses' }).click();
    // R8 on the list: each user's effective authority; the user opens from it.
    const row = page.getByTestId('user-row').filter({ hasText: 'olga@contoso.com' });
    expect(await untilText(row.getByTestId('user-authority'), /office365/)).toBe('office365');
    await row.getByRole('link', { name: 'olga@contoso.com' }).click();
    await untilText(page.getByTestId('effective-authority'), /office365/);
    expect(page.url()).toBe(`${stack.gateway.url}/users/${userId}`);
    await page.getByRole('combobox', { name: 'License' }).click();
    await page.getByRole('option', { name: 'EMS_E3' }).click();
    await page.getByRole('button', { name: 'Preview' }).click();
    const preview = await untilText(page.getByTestId('license-preview'), /Preview: office365 → intune/);
    expect(preview).toContain('NO_INTUNE_CONFIGURATION_ASSIGNED');
    // Nothing changed yet.
    expect((await tenant.admin.get(tenant.path(`/users/${userId}`))).body.licenses).toEqual(['O365_E3']);
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Assign EMS_E3' }).click();
    await untilText(page.getByTestId('effective-authority'), /intune/);
    expect(await untilText(row.getByTestId('user-authority'), /intune/)).toBe('intune');
    expect((await tenant.admin.get(tenant.path(`/users/${userId}`))).body.licenses.sort()).toEqual(['EMS_E3', 'O365_E3']);
    await page.close();
  }, 120_000);

  it("R8: the admin sees the tenant's users with their effective authority and its groups with their members, finds users by name or group, and creates a user in a group", async () => {
    const tenant = await createTenant(stack, 'Directory', 'intune');
    const field = (await tenant.admin.post(tenant.path('/groups'), { name: 'Field' })).body.groupId;
    await tenant.admin.post(tenant.path('/groups'), { name: 'Office' });
    const ann = (await tenant.admin.post(tenant.path('/users'), { userPrincipalName: 'ann@contoso.com', groupIds: [field] })).body.userId;
    await tenant.admin.post(tenant.path(`/users/${ann}/licenses`), { sku: 'M365_E3' });
    await tenant.admin.post(tenant.path('/users'), { userPrincipalName: 'bob@contoso.com' });
    const page = await signInAs(tenant, 'admin');
    await page.getByRole('tab', { name: 'Users and licenses' }).click();
    const users = page.getByTestId('user-row');
    expect(await untilText(users.first(), /ann@contoso\.com/)).toMatch(/intune.*M365_E3/);
    expect(await users.nth(1).textContent()).toMatch(/bob@contoso\.com.*none \(cannot enroll\)/);
    expect(await page.getByTestId('group-row').allInnerTexts()).toEqual([expect.stringMatching(/^Field\s+1\s/), expect.stringMatching(/^Office\s+0\s/)]);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'users');

    // A group's members; then a principal name prefix.
    await page.getByRole('link', { name: 'Field' }).click();
    await untilText(page.getByText(/^Members of group/), new RegExp(field));
    // The list shown under a group's name is that group's: the whole directory's rows are not kept on screen meanwhile.
    expect(await untilText(users.first(), /ann@contoso\.com/)).toBeTruthy();
    expect(await users.count()).toBe(1);
    await page.getByRole('link', { name: 'all users' }).click();
    await page.getByRole('searchbox').fill('BO');
    expect(await untilText(users.first(), /bob@contoso\.com/)).toBeTruthy();
    expect(await users.count()).toBe(1);

    // A new user opens at once and is listed.
    await page.getByLabel('User principal name').fill('cleo@contoso.com');
    await page.getByRole('button', { name: 'Create user' }).click();
    await untilText(page.getByRole('heading', { name: 'cleo@contoso.com' }), /cleo/);
    await page.getByRole('searchbox').fill('');
    expect(await untilText(users.filter({ hasText: 'cleo@contoso.com' }), /cleo@contoso\.com.*none \(cannot enroll\)/)).toBeTruthy();
    await page.close();
  }, 120_000);

  it('R24: a compliance policy is made with a form (version checked before sending), and a refusal by the server shows its code', async () => {
    const tenant = await createTenant(stack, 'Compliance');
    const page = await signInAs(tenant, 'admin');
    await page.getByRole('tab', { name: 'Configurations' }).click();
    await page.getByRole('combobox', { name: 'Type' }).click();
    await page.getByRole('option', { name: 'compliance' }).click();
    await page.getByLabel('Name').fill('Baseline');
    await page.getByRole('checkbox', { name: 'ios' }).check();
    await page.getByLabel('Minimum OS version').fill('16.x');
    await page.getByRole('switch', { name: 'Require encryption' }).check();
    await page.getByRole('switch', { name: 'Require a passcode' }).check();
    await page.getByRole('button', { name: 'Create configuration' }).click();
    expect(await untilText(page.getByText('a dotted version such as 16.4.1'), /dotted/)).toBeTruthy();
    expect((await tenant.admin.get(tenant.path('/authorities/intune/configurations'))).body.items).toEqual([]);
    await page.getByLabel('Minimum OS version').fill('16.4');
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Create configuration' }).click();
    await untilText(page.getByTestId('configuration-row'), /Baseline.*compliance/);
    const [created] = (await tenant.admin.get(tenant.path('/authorities/intune/configurations'))).body.items;
    expect(created.settings).toEqual({ minOsVersion: '16.4', requireEncryption: true, blockJailbroken: false, requirePasscode: true });

    // Opened for editing, then changed by someone else: saving is refused with 409 and the code is on screen.
    await page.getByRole('button', { name: 'Edit Baseline' }).click();
    expect(await page.getByLabel('Minimum OS version').inputValue()).toBe('16.4');
    expect(await page.getByRole('switch', { name: 'Require encryption' }).isChecked()).toBe(true);
    const other = { name: 'Baseline', type: 'compliance', platforms: ['ios'], settings: { minOsVersion: '17' }, assignedGroupIds: [] };
    expect((await tenant.admin.put(tenant.path(`/authorities/intune/configurations/${created.configurationId}`), other)).status).toBe(200);
    await page.getByRole('switch', { name: 'Block jailbroken or rooted devices' }).check();
    await page.getByRole('button', { name: 'Save changes' }).click();
    expect(await untilText(page.getByRole('alert'), /The configuration was refused.*VERSION_CONFLICT/)).toBeTruthy();
    expect((await tenant.admin.get(tenant.path(`/authorities/intune/configurations/${created.configurationId}`))).body.settings).toEqual({ minOsVersion: '17' });
    await page.close();
  }, 120_000);

  it('R27: the device list filters and pages by cursor, 50 devices at a time', async () => {
    const tenant = await createTenant(stack, 'Fleet', 'intune');
    const enroll = (platform: 'windows' | 'android') => enrollDevice(tenant, { platform, enrollmentType: 'bulk', osVersion: '11' });
    for (let i = 0; i < 5; i++) await Promise.all(Array.from({ length: 10 }, () => enroll('windows')));
    await enroll('android');
    const page = await signInAs(tenant, 'reader');
    await page.getByRole('tab', { name: 'Devices' }).click();
    const rows = page.getByTestId('device-row');
    await untilText(page.getByText(/^Page \d$/), /Page 1/);
    const count = async (n: number) => {
      const deadline = Date.now() + 30_000;
      while ((await rows.count()) !== n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      return rows.count();
    };
    expect(await count(50)).toBe(50);
    await page.getByRole('button', { name: 'Next page' }).click();
    expect(await count(1)).toBe(1);
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Previous page' }).click();
    expect(await count(50)).toBe(50);
    await page.getByRole('combobox', { name: 'platform' }).click();
    await page.getByRole('option', { name: 'android' }).click();
    expect(await count(1)).toBe(1);
    expect(await rows.first().textContent()).toContain('android');
    expect(await seriousViolations(page)).toEqual([]);
    await page.close();
  }, 120_000);

  it('a reader sees the views and no button that would get a 403', async () => {
    const tenant = await createTenant(stack, 'Readers', 'intune');
    const { deviceId } = await enrolledDevice(stack, tenant);
    const page = await signInAs(tenant, 'reader');
    await untilText(page.getByTestId('authority'), /Intune MDM authority/);
    expect(await buttonNames(page)).toEqual(['Sign out']);
    expect(await page.getByRole('tab').allInnerTexts()).toEqual(['Tenant status', 'Migration', 'Devices', 'Users and licenses', 'Configurations', 'Audit log']);
    await page.goto(`${stack.gateway.url}/devices/${deviceId}`);
    await untilText(page.getByTestId('device-managed-by'), /intune/);
    expect(await buttonNames(page)).toEqual(['Sign out']);
    // The users and groups are listed to a reader, with paging only: no license, user or group button.
    await page.getByRole('tab', { name: 'Users and licenses' }).click();
    await page.getByTestId('user-row').first().waitFor();
    expect(await page.getByTestId('user-row').count()).toBe(1);
    // Paging and clearing the search change nothing on the server; nothing else is offered (buttons by accessible name: the search's clear button is an icon).
    const actions = async () =>
      (await page.getByRole('button').evaluateAll((buttons) => buttons.map((b) => b.getAttribute('aria-label') ?? (b.textContent ?? '').trim()))).filter(
        (name) => !/^(Previous page|Next page|Clear search)$/.test(name),
      );
    expect(await actions()).toEqual(['Sign out']);
    await page.getByTestId('user-row').getByRole('link').click();
    await page.getByTestId('effective-authority').waitFor();
    expect(await actions()).toEqual(['Sign out']);
    expect(await seriousViolations(page)).toEqual([]);
    await page.close();
  }, 120_000);

  it('a token revoked while it is signed in ends its session at its next call', async () => {
    const tenant = await createTenant(stack, 'Revoked');
    const issued = (await tenant.admin.post(tenant.path('/tokens'), { role: 'reader' })).body;
    const page = await signIn(browser, stack.gateway.url, issued.token);
    await page.getByRole('tab', { name: 'Migration' }).click();
    await page.getByTestId('count-migrated').waitFor();
    expect((await tenant.admin.delete(tenant.path(`/tokens/${issued.tokenId}`))).status).toBe(204);
    // The dashboard asks again within seconds, gets 401, and the console forgets the token.
    await page.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 20_000 });
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.close();
  }, 120_000);

  it('an enroller sees enrollment only', async () => {
    const tenant = await createTenant(stack, 'Enrollers');
    const page = await signInAs(tenant, 'enroller');
    expect(await page.getByRole('tab').allInnerTexts()).toEqual(['Enrollment']);
    await page.goto(`${stack.gateway.url}/status`);
    await page.getByRole('button', { name: 'Enroll device' }).waitFor();
    expect(page.url()).toBe(`${stack.gateway.url}/enroll`);
    await page.close();
  }, 120_000);

  it("a second tenant's token sees nothing of the first", async () => {
    const first = await createTenant(stack, 'First', 'intune');
    const { deviceId } = await enrolledDevice(stack, first);
    const second = await createTenant(stack, 'Second');
    const page = await signInAs(second, 'admin');
    await page.getByTestId('authority-banner').waitFor();
    await page.getByRole('tab', { name: 'Devices' }).click();
    await page.getByRole('table', { name: 'Devices' }).waitFor();
    expect(await page.getByTestId('device-row').count()).toBe(0);
    await page.getByRole('tab', { name: 'Users and licenses' }).click();
    await page.getByRole('table', { name: 'Users' }).waitFor();
    await page.getByRole('table', { name: 'Groups' }).waitFor();
    expect([await page.getByTestId('user-row').count(), await page.getByTestId('group-row').count()]).toEqual([0, 0]);
    await page.goto(`${stack.gateway.url}/devices/${deviceId}`);
    expect(await untilText(page.getByRole('alert'), /NOT_FOUND/)).toBeTruthy();
    await page.close();
  }, 120_000);

  it("the first page loads at most 300 KB of gzipped JavaScript; the dashboard's chart is not part of it", async () => {
    const page = await browser.newPage();
    const scripts = new Map<string, Promise<number>>();
    page.on('response', (res) => {
      if (res.url().endsWith('.js')) scripts.set(res.url(), res.body().then((body) => gzipSync(body).length));
    });
    await page.goto(stack.gateway.url, { waitUntil: 'networkidle' });
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const total = (await Promise.all(scripts.values())).reduce((a, b) => a + b, 0);
    expect(scripts.size).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(300 * 1024);
    expect([...scripts.keys()].some((url) => url.includes('MigrationChart'))).toBe(false);
    await page.close();
  }, 60_000);

  const get = (path: string, init: RequestInit = {}) => fetch(`${stack.gateway.url}${path}`, init);

  it('at / and for any page path (index.html, scripts from its origin only); API, device API and /health keep their answers', async () => {
    for (const path of ['/', '/devices/4f1c2a9e-0000-4000-8000-000000000000']) {
      const page = await get(path);
      expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await page.text()).toContain('<div id="root"></div>');
    }
    const missing = await get('/assets/missing.js');
    expect([missing.status, ((await missing.json()) as { code: string }).code]).toEqual([404, 'NOT_FOUND']);
    const api = await get('/api/v1/no-such-call');
    expect([api.status, ((await api.json()) as { code: string }).code]).toEqual([404, 'NOT_FOUND']);
    const device = await get('/device/v1/notifications?waitSeconds=0');
    expect([device.status, ((await device.json()) as { code: string }).code]).toEqual([401, 'UNAUTHORIZED']);
    expect(((await (await get('/health')).json()) as { status: string }).status).toMatch(/^(ok|degraded)$/);
    expect((await get('/', { method: 'POST' })).status).toBe(404);
  });

  it("GET /api/v1/tenants/{t}/tokens lists the tenant's live tokens to its admin only, oldest first, without the secrets", async () => {
    const tenant = await createTenant(stack, 'Tokens');
    const reader = (await tenant.admin.post(tenant.path('/tokens'), { role: 'reader' })).body;
    const helpdesk = (await tenant.admin.post(tenant.path('/tokens'), { role: 'helpdesk' })).body;
    const listed = await tenant.admin.get(tenant.path('/tokens?limit=2'));
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((t: { role: string }) => t.role)).toEqual(['admin', 'reader']);
    expect(listed.body.items[1]).toEqual({ tokenId: reader.tokenId, role: 'reader', createdAt: expect.any(String) });
    const next = await tenant.admin.get(tenant.path(`/tokens?limit=2&cursor=${listed.body.nextCursor}`));
    expect([next.body.items.map((t: { tokenId: string }) => t.tokenId), next.body.nextCursor]).toEqual([[helpdesk.tokenId], null]);
    await tenant.admin.delete(tenant.path(`/tokens/${reader.tokenId}`));
    expect((await tenant.admin.get(tenant.path('/tokens'))).body.items.map((t: { role: string }) => t.role)).toEqual(['admin', 'helpdesk']);
    expect((await stack.client(helpdesk.token).get(tenant.path('/tokens'))).status).toBe(403);
    const other = await createTenant(stack, 'Others');
    expect((await other.admin.get(tenant.path('/tokens'))).status).toBe(404);
  });

  it("R7: GET …/authorities/{a}/configurations lists that authority's live configurations by name, a page at a time, to readers of the tenant only", async () => {
    const tenant = await createTenant(stack, 'Configured');
    const create = (authority: string, name: string) =>
      tenant.admin.post(tenant.path(`/authorities/${authority}/configurations`), { name, type: 'wifi', platforms: ['android'], settings: {}, assignedGroupIds: [] });
    const wifi = (await create('intune', 'Wi-Fi')).body;
    await create('intune', 'Mail');
    await create('office365', 'Legacy Mail');
    const vpn = (await create('intune', 'VPN')).body;
    await tenant.admin.delete(tenant.path(`/authorities/intune/configurations/${vpn.configurationId}`));
    const names = (body: { items: { name: string }[] }) => body.items.map((c) => c.name);
    const first = await stack.client(await tokenOf(tenant, 'reader')).get(tenant.path('/authorities/intune/configurations?limit=1'));
    expect([first.status, names(first.body), first.body.nextCursor]).toEqual([200, ['Mail'], '1']);
    const rest = (await tenant.admin.get(tenant.path('/authorities/intune/configurations?cursor=1'))).body;
    expect([rest.items, rest.nextCursor]).toEqual([[wifi], null]);
    expect(names((await tenant.admin.get(tenant.path('/authorities/office365/configurations'))).body)).toEqual(['Legacy Mail']);
    const other = await createTenant(stack, 'Elsewhere');
    expect((await other.admin.get(tenant.path('/authorities/intune/configurations'))).status).toBe(404);
    expect((await tenant.admin.get(tenant.path('/authorities/intune/configurations?cursor=x'))).status).toBe(400);
  });

  it('GET /api/v1/tenants lists every tenant with its authority to the operator only, oldest first, a page at a time', async () => {
    const a = await createTenant(stack, 'Listed A');
    const b = await createTenant(stack, 'Listed B', 'intune');
    type Listed = { tenantId: string; name: string; authority: string; bannerVisible: boolean; createdAt: string };
    const all: Listed[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: { items: Listed[]; nextCursor: string | null } } = await stack.operator.get(`/api/v1/tenants?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      all.push(...res.body.items);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBeGreaterThan(1);
    expect(new Set(all.map((t) => t.tenantId)).size).toBe(all.length);
    const listed = all.filter((t) => t.tenantId === a.tenantId || t.tenantId === b.tenantId);
    expect(listed).toEqual([
      { tenantId: a.tenantId, name: 'Listed A', authority: 'unknown', bannerVisible: true, createdAt: expect.any(String) },
      { tenantId: b.tenantId, name: 'Listed B', authority: 'intune', bannerVisible: false, createdAt: expect.any(String) },
    ]);
    // A tenant's admin sees no list of tenants.
    expect((await a.admin.get('/api/v1/tenants')).status).toBe(403);
    expect((await stack.anonymous.get('/api/v1/tenants')).status).toBe(401);
    expect((await stack.operator.get('/api/v1/tenants?cursor=x')).status).toBe(400);
  });

  it("R8: GET …/users and …/groups list a tenant's users (by principal name, with effective authority and device count) and groups (with members) to its readers only, by keyset cursor", async () => {
    const tenant = await createTenant(stack, 'Directory lists', 'intune');
    const group = (await tenant.admin.post(tenant.path('/groups'), { name: 'Sales' })).body.groupId;
    await tenant.admin.post(tenant.path('/groups'), { name: 'audit' });
    const { userId: owner } = await enrolledDevice(stack, tenant, [group]);
    for (const name of ['Zed', 'amy', 'Bea']) await tenant.admin.post(tenant.path('/users'), { userPrincipalName: `${name}@contoso.com`, groupIds: name === 'Bea' ? [group] : [] });
    const reader = stack.client(await tokenOf(tenant, 'reader'));
    // By principal name, case aside (the device owner's name is random), two a page.
    type Listed = { userId: string; userPrincipalName: string };
    const ownerName = (await tenant.admin.get(tenant.path(`/users/${owner}`))).body.userPrincipalName as string;
    const expected = [ownerName, 'amy@contoso.com', 'Bea@contoso.com', 'Zed@contoso.com'].sort((x, y) => x.toLowerCase().localeCompare(y.toLowerCase()));
    const first = await reader.get(tenant.path('/users?limit=2'));
    expect(first.status).toBe(200);
    const rest = (await reader.get(tenant.path(`/users?limit=2&cursor=${first.body.nextCursor}`))).body;
    expect([...first.body.items, ...rest.items].map((u: Listed) => u.userPrincipalName)).toEqual(expected);
    expect(rest.nextCursor).toBeNull();
    const all = [...first.body.items, ...rest.items];
    expect(all.find((u: Listed) => u.userPrincipalName === 'amy@contoso.com')).toEqual({ userId: expect.any(String), userPrincipalName: 'amy@contoso.com', displayName: null, groupIds: [], licenses: [], effectiveAuthority: null, deviceCount: 0 });
    expect(all.find((u: Listed) => u.userId === owner)).toMatchObject({ licenses: ['M365_E3'], effectiveAuthority: 'intune', deviceCount: 1, groupIds: [group] });
    const members = (await reader.get(tenant.path(`/users?groupId=${group}`))).body.items.map((u: { userId: string }) => u.userId);
    expect(members).toHaveLength(2);
    expect(members).toContain(owner);
    expect((await reader.get(tenant.path('/users?q=BEA%40'))).body.items.map((u: { userPrincipalName: string }) => u.userPrincipalName)).toEqual(['Bea@contoso.com']);
    const groups = await reader.get(tenant.path('/groups?limit=1'));
    expect([groups.status, groups.body.items]).toEqual([200, [{ groupId: expect.any(String), name: 'audit', memberCount: 0 }]]);
    expect((await reader.get(tenant.path(`/groups?cursor=${groups.body.nextCursor}`))).body).toEqual({ items: [{ groupId: group, name: 'Sales', memberCount: 2 }], nextCursor: null });
    // Bad input is a 400 that names the field; another tenant's token and an enroller see nothing.
    const bad = await reader.get(tenant.path('/users?cursor=not-a-cursor'));
    expect([bad.status, bad.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect((await reader.get(tenant.path('/users?groupId=x'))).status).toBe(400);
    expect((await stack.client(await tokenOf(tenant, 'enroller')).get(tenant.path('/users'))).status).toBe(403);
    const other = await createTenant(stack, 'Directory others');
    expect((await other.admin.get(tenant.path('/users'))).status).toBe(404);
    expect((await other.admin.get(tenant.path('/groups'))).status).toBe(404);
    expect((await other.admin.get(other.path('/users'))).body).toEqual({ items: [], nextCursor: null });
  });

  it('GET /api/v1/session says who a token is: 401 without one, the operator, or a tenant with its role', async () => {
    expect((await stack.anonymous.get('/api/v1/session')).status).toBe(401);
    expect((await stack.operator.get('/api/v1/session')).body).toEqual({ kind: 'operator' });
    const tenant = await createTenant(stack, 'Sessions');
    const issued = (await tenant.admin.post(tenant.path('/tokens'), { role: 'reader' })).body;
    const reader = stack.client(issued.token);
    expect((await reader.get('/api/v1/session')).body).toEqual({ kind: 'tenant', tenantId: tenant.tenantId, tokenId: issued.tokenId, role: 'reader' });
    await tenant.admin.delete(tenant.path(`/tokens/${issued.tokenId}`));
    expect((await reader.get('/api/v1/session')).status).toBe(401);
  });
});
