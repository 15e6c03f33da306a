import { randomUUID } from 'node:crypto';
import { TenantAuthority } from '@mdm/contracts/authority';
import { selfSignedCertificatePem } from '@mdm/platform/testing';
import { DeviceClient } from './support/device-client';
import { TestStack, startStack } from './support/stack';
import { TestTenant, createTenant } from './support/tenant';

/**
 * API.md: "A command that returned 2xx is visible to every later command at once, device calls
 * included". For each kind of admin command, the device call is sent the instant the command
 * answered, TRIALS times, while 200 other devices check in beside it. Every answer is checked, and
 * every DeviceCheckedIn the calls appended is checked against the log afterwards.
 */
jest.setTimeout(600_000);
const TRIALS = Number(process.env.CONSISTENCY_TRIALS ?? 50);
const BACKGROUND_DEVICES = 200;
const DAY_MS = 86_400_000;
const healthy = { osVersion: '14.0', encrypted: true, jailbroken: false, passcodeSet: true };
const unencrypted = { ...healthy, encrypted: false };

interface Enrolled {
  deviceId: string;
  deviceCredential: string;
}

describe('device calls see every command that answered before them (API.md, R14, R16, R20–R22, R24, R25)', () => {
  let stack: TestStack;
  let background: { stop: () => Promise<number> };
  /** Per kind of command: trials, and answers that did not reflect the command. */
  const table: Record<string, { trials: number; stale: number }> = {};
  /** Per device: the configuration names each of its answered check-ins was expected to carry, in order. */
  const expectedLog = new Map<string, string[][]>();

  beforeAll(async () => {
    stack = await startStack();
    background = await checkInLoad(stack, BACKGROUND_DEVICES);
  }, 120_000);
  afterAll(async () => {
    const backgroundCheckIns = await background?.stop();
    process.stdout.write(
      `\ndevice-call consistency (${BACKGROUND_DEVICES} devices checking in beside, ${backgroundCheckIns} check-ins):\n` +
        Object.entries(table)
          .map(([kind, { trials, stale }]) => `  ${kind.padEnd(44)} ${String(trials).padStart(4)} trials  ${stale} stale\n`)
          .join(''),
    );
    await stack?.stop();
  });

  const device = (d: Enrolled) => new DeviceClient(stack.gateway.url, d.deviceCredential);

  /** Runs the trials of one kind; each returns whether the device call reflected the command. */
  async function trials(kind: string, trial: (i: number) => Promise<boolean>): Promise<void> {
    const row = (table[kind] = { trials: 0, stale: 0 });
    for (let i = 0; i < TRIALS; i++) {
      row.trials++;
      if (!(await trial(i))) row.stale++;
    }
    expect({ kind, stale: row.stale }).toEqual({ kind, stale: 0 });
  }

  /** A check-in whose configurations are recorded for the log check. */
  async function checkIn(d: Enrolled, state: object, expected?: string[]) {
    const res = await device(d).checkIn(state);
    if (res.status === 200 && expected) {
      const log = expectedLog.get(d.deviceId) ?? [];
      log.push(expected);
      expectedLog.set(d.deviceId, log);
    }
    return res;
  }
  const names = (body: { configurations?: { name: string }[] }) => (body.configurations ?? []).map((c) => c.name).sort();
  const same = (a: string[], b: string[]) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

  const tenantOf = (authority: TenantAuthority) => createTenant(stack, `Consistency ${randomUUID().slice(0, 8)}`, authority);
  async function apns(t: TestTenant, authority: string) {
    const now = Date.now();
    const certificatePem = await selfSignedCertificatePem({ notBefore: new Date(now - DAY_MS), notAfter: new Date(now + 400 * DAY_MS) });
    expect((await t.admin.put(t.path(`/authorities/${authority}/apns-certificate`), { certificatePem })).status).toBe(200);
  }
  async function group(t: TestTenant) {
    return (await t.admin.post(t.path('/groups'), { name: `g-${randomUUID().slice(0, 8)}` })).body.groupId as string;
  }
  async function user(t: TestTenant, groupIds: string[], sku?: string) {
    const res = await t.admin.post(t.path('/users'), { userPrincipalName: `${randomUUID()}@contoso.com`, groupIds });
    expect(res.status).toBe(201);
    if (sku) expect((await t.admin.post(t.path(`/users/${res.body.userId}/licenses`), { sku })).status).toBe(200);
    return res.body.userId as string;
  }
  async function enroll(t: TestTenant, body: object): Promise<Enrolled> {
    const res = await t.admin.post(t.path('/enrollments'), { serialNumber: `SN-${randomUUID()}`, osVersion: '14.0', ...body });
    expect(res.status).toBe(201);
    return res.body;
  }
  async function configuration(t: TestTenant, authority: string, name: string, groupIds: string[], platforms = ['android', 'ios', 'windows']) {
    const res = await t.admin.post(t.path(`/authorities/${authority}/configurations`), {
      name,
      type: 'wifi',
      platforms,
      settings: {},
      assignedGroupIds: groupIds,
    });
    expect(res.status).toBe(201);
    return res.body.configurationId as string;
  }

  it('R4/R16/R20: an authority change with an APNs certificate on the target: the next poll has its notification, the next check-in the new authority', async () => {
    const t = await tenantOf('office365');
    await t.admin.post(t.path('/consents'), { kind: 'appleMdmPush' });
    await apns(t, 'office365');
    await apns(t, 'intune');
    const iphone = await enroll(t, { platform: 'ios', enrollmentType: 'user', userId: await user(t, [], 'M365_E3') });
    const polled = { trials: 0, stale: 0 };
    table['authority change → poll'] = polled;
    await trials('authority change (APNs on target) → check-in', async (i) => {
      const to = i % 2 === 0 ? 'intune' : 'office365';
      expect((await t.admin.put(t.path('/authority'), { authority: to })).status).toBe(200);
      const poll = await device(iphone).poll(0);
      polled.trials++;
      if (!poll.body.notifications?.some((n: { reason: string }) => n.reason === 'authorityChanged')) polled.stale++;
      const res = await checkIn(iphone, healthy);
      return res.status === 200 && res.body.managedBy === to;
    });
    expect(polled.stale).toBe(0);
  });

  it('R22: an authority change to one without an APNs certificate: the next check-in of an Apple device is refused', async () => {
    const t = await tenantOf('office365');
    await t.admin.post(t.path('/consents'), { kind: 'appleMdmPush' });
    await apns(t, 'office365');
    const iphone = await enroll(t, { platform: 'ios', enrollmentType: 'user', userId: await user(t, [], 'M365_E3') });
    await trials('authority change (no APNs on target) → check-in', async (i) => {
      const to = i % 2 === 0 ? 'intune' : 'office365';
      expect((await t.admin.put(t.path('/authority'), { authority: to })).status).toBe(200);
      const res = await checkIn(iphone, healthy);
      return to === 'intune' ? res.status === 422 && res.body.code === 'APNS_CERTIFICATE_MISSING' : res.status === 200 && res.body.managedBy === 'office365';
    });
  });

  it('R22: an APNs certificate uploaded to the new authority: the next check-in of the blocked Apple device moves', async () => {
    await trials('APNs upload → check-in', async () => {
      const t = await tenantOf('office365');
      await t.admin.post(t.path('/consents'), { kind: 'appleMdmPush' });
      await apns(t, 'office365');
      const iphone = await enroll(t, { platform: 'ios', enrollmentType: 'user', userId: await user(t, [], 'M365_E3') });
      expect((await t.admin.put(t.path('/authority'), { authority: 'intune' })).status).toBe(200);
      await apns(t, 'intune');
      const res = await checkIn(iphone, healthy);
      return res.status === 200 && res.body.managedBy === 'intune';
    });
  });

  it('R25: a co-management change of the compliance workload: the next check-in of a Windows device is judged by the new owner', async () => {
    const t = await tenantOf('intune');
    const g = await group(t);
    await t.admin.post(t.path('/authorities/intune/configurations'), {
      name: 'Encrypted',
      type: 'compliance',
      platforms: ['windows'],
      settings: { requireEncryption: true },
      assignedGroupIds: [g],
    });
    const pc = await enroll(t, { platform: 'windows', enrollmentType: 'user', userId: await user(t, [g], 'INTUNE_PLAN_1'), osVersion: '10.0.22631' });
    await trials('co-management change → check-in', async (i) => {
      const owner = i % 2 === 0 ? 'configMgr' : 'intune';
      const res = await t.admin.put(t.path('/co-management'), { enabled: true, autoEnrollment: false, workloads: { compliancePolicies: owner } });
      expect(res.status).toBe(200);
      const answer = await checkIn(pc, unencrypted);
      return answer.status === 200 && answer.body.compliance.state === (owner === 'configMgr' ? 'notEvaluated' : 'noncompliant');
    });
  });

  describe('configurations (R20, R21)', () => {
    let t: TestTenant;
    let g: string;
    let other: string;
    let phone: Enrolled;
    beforeAll(async () => {
      t = await tenantOf('intune');
      [g, other] = [await group(t), await group(t)];
      phone = await enroll(t, { platform: 'android', enrollmentType: 'user', userId: await user(t, [g], 'INTUNE_PLAN_1') });
    });
    let current: string[] = [];

    it('a configuration created: the next check-in has it', async () => {
      await trials('configuration create → check-in', async (i) => {
        await configuration(t, 'intune', `created-${i}`, [g], ['android']);
        current = [...current, `created-${i}`];
        const res = await checkIn(phone, healthy, current);
        return res.status === 200 && same(names(res.body), current);
      });
    });

    it('a configuration updated: the next check-in has its new version', async () => {
      const id = await configuration(t, 'intune', 'updated', [g], ['android']);
      current = [...current, 'updated'];
      await trials('configuration update → check-in', async (i) => {
        const res = await t.admin.put(t.path(`/authorities/intune/configurations/${id}`), {
          name: 'updated',
          type: 'wifi',
          platforms: ['android'],
          settings: { ssid: `net-${i}` },
          assignedGroupIds: [g],
        });
        expect(res.status).toBe(200);
        const answer = await checkIn(phone, healthy, current);
        return answer.status === 200 && answer.body.configurations.find((c: { name: string }) => c.name === 'updated')?.version === res.body.version;
      });
    });

    it('a configuration deleted: the next check-in no longer has it', async () => {
      await trials('configuration delete → check-in', async (i) => {
        const id = await configuration(t, 'intune', `deleted-${i}`, [g], ['android']);
        expect((await t.admin.delete(t.path(`/authorities/intune/configurations/${id}`))).status).toBe(204);
        const res = await checkIn(phone, healthy, current);
        return res.status === 200 && same(names(res.body), current);
      });
    });

    it('a configuration assigned to another group and back: the next check-in follows', async () => {
      const id = await configuration(t, 'intune', 'moving', [g], ['android']);
      await trials('configuration re-assign → check-in', async (i) => {
        const to = i % 2 === 0 ? other : g;
        const res = await t.admin.put(t.path(`/authorities/intune/configurations/${id}`), {
          name: 'moving',
          type: 'wifi',
          platforms: ['android'],
          settings: {},
          assignedGroupIds: [to],
        });
        expect(res.status).toBe(200);
        const expected = to === g ? [...current, 'moving'] : current;
        const answer = await checkIn(phone, healthy, expected);
        return answer.status === 200 && same(names(answer.body), expected);
      });
    });
  });

  it('R8/R9: a license added and removed under coexistence: the next check-in has the user\'s new authority', async () => {
    const t = await tenantOf('coexistence');
    const u = await user(t, [], 'O365_E3');
    const phone = await enroll(t, { platform: 'android', enrollmentType: 'user', userId: u });
    await trials('license add/remove → check-in', async (i) => {
      const add = i % 2 === 0;
      const res = add
        ? await t.admin.post(t.path(`/users/${u}/licenses`), { sku: 'EMS_E3' })
        : await t.admin.delete(t.path(`/users/${u}/licenses/EMS_E3`));
      expect(res.status).toBe(200);
      const answer = await checkIn(phone, healthy);
      return answer.status === 200 && answer.body.managedBy === (add ? 'intune' : 'office365');
    });
  });

  it('R20: a user moved to another group: the next check-in has that group\'s configurations', async () => {
    const t = await tenantOf('intune');
    const [a, b] = [await group(t), await group(t)];
    await configuration(t, 'intune', 'of-a', [a], ['android']);
    await configuration(t, 'intune', 'of-b', [b], ['android']);
    const u = await user(t, [a], 'INTUNE_PLAN_1');
    const phone = await enroll(t, { platform: 'android', enrollmentType: 'user', userId: u });
    await trials('group membership change → check-in', async (i) => {
      const to = i % 2 === 0 ? b : a;
      expect((await t.admin.put(t.path(`/users/${u}/groups`), { groupIds: [to] })).status).toBe(200);
      const expected = [to === a ? 'of-a' : 'of-b'];
      const answer = await checkIn(phone, healthy, expected);
      return answer.status === 200 && same(names(answer.body), expected);
    });
  });

  it('R13/R14: a device enrolled a moment ago checks in on its first call; unenrolled, its next check-in and poll are 401', async () => {
    const t = await tenantOf('intune');
    const enrolledRow = { trials: 0, stale: 0 };
    table['enroll → check-in'] = enrolledRow;
    await trials('unenroll → check-in and poll', async () => {
      const kiosk = await enroll(t, { platform: 'android', enrollmentType: 'bulk' });
      enrolledRow.trials++;
      if ((await checkIn(kiosk, healthy)).status !== 200) enrolledRow.stale++;
      expect((await t.admin.post(t.path(`/devices/${kiosk.deviceId}/unenroll`))).status).toBe(200);
      const [answer, poll] = [await device(kiosk).checkIn(healthy), await device(kiosk).poll(0)];
      return answer.status === 401 && poll.status === 401;
    });
    expect(enrolledRow.stale).toBe(0);
  });

  it('R14: a poll waiting when its device is unenrolled ends at once with 401', async () => {
    const t = await tenantOf('intune');
    const kiosk = await enroll(t, { platform: 'android', enrollmentType: 'bulk' });
    expect((await checkIn(kiosk, healthy)).status).toBe(200);
    const started = Date.now();
    const waiting = device(kiosk).poll(30);
    await new Promise((r) => setTimeout(r, 300));
    expect((await t.admin.post(t.path(`/devices/${kiosk.deviceId}/unenroll`))).status).toBe(200);
    const answer = await waiting;
    expect([answer.status, answer.body.code]).toEqual([401, 'UNAUTHORIZED']);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('R24: a remote action queued: the next check-in delivers it', async () => {
    const t = await tenantOf('intune');
    const phone = await enroll(t, { platform: 'android', enrollmentType: 'bulk' });
    await trials('remote action → check-in', async () => {
      const queued = await t.admin.post(t.path(`/devices/${phone.deviceId}/actions`), { type: 'remoteLock' });
      expect(queued.status).toBe(202);
      const answer = await checkIn(phone, healthy);
      return answer.status === 200 && answer.body.commands.some((c: { commandId: string }) => c.commandId === queued.body.commandId);
    });
  });

  it('no DeviceCheckedIn in the log carries configurations older than the commands that answered before its check-in', async () => {
    expect(expectedLog.size).toBeGreaterThan(0);
    type Item = { configurationId: string; name: string };
    for (const [deviceId, expected] of expectedLog) {
      // The device's configurations at each of its check-ins, folded from what the log recorded.
      const held = new Map<string, string>();
      const logged: string[][] = [];
      for (const e of await stack.deviceSync.runtime.store.readStream(`devicesync-${deviceId}`)) {
        if (e.type === 'DeviceConfigurationsChanged') {
          const d = e.data as Record<'added' | 'updated' | 'removed', Item[]>;
          for (const c of d.removed) held.delete(c.configurationId);
          for (const c of [...d.added, ...d.updated]) held.set(c.configurationId, c.name);
        }
        if (e.type === 'DeviceCheckedIn') logged.push([...held.values()].sort());
      }
      expect({ deviceId, logged }).toEqual({ deviceId, logged: expected.map((names) => [...names].sort()) });
    }
  });

  it("device-sync's /metrics carries what read-your-writes cost its device calls (read_your_writes_seconds: the owners' answers, the waits for its inbox)", async () => {
    const metrics = await (await fetch(`${stack.deviceSync.url}/metrics`)).text();
    const count = (step: string) => Number(new RegExp(`^read_your_writes_seconds_count\\{[^}]*step="${step}"[^}]*\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    // The background devices check in throughout: each round of a catch-up asks the owners, then waits.
    expect(count('ask')).toBeGreaterThan(0);
    expect(count('apply')).toBeGreaterThan(0);
    expect(count('apply')).toBeLessThanOrEqual(count('ask'));
  });
});

/** Devices of a tenant of their own checking in without a pause, 20 at a time, until stopped. */
async function checkInLoad(stack: TestStack, count: number): Promise<{ stop: () => Promise<number> }> {
  const t = await createTenant(stack, 'Background', 'intune');
  const devices: DeviceClient[] = [];
  for (let i = 0; i < count; i += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, count - i) }, () =>
        t.admin.post(t.path('/enrollments'), { platform: 'android', enrollmentType: 'bulk', serialNumber: `BG-${randomUUID()}`, osVersion: '14' }),
      ),
    );
    devices.push(...batch.map((res) => new DeviceClient(stack.gateway.url, res.body.deviceCredential)));
  }
  let running = true;
  let done = 0;
  const workers = Array.from({ length: 20 }, async (_, w) => {
    for (let i = w; running; i += 20) {
      await devices[i % devices.length].checkIn(healthy);
      done++;
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return done;
    },
  };
}
