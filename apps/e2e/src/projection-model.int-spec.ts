import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupCaughtUp, selfSignedCertificatePem } from '@mdm/platform/testing';
import { ApiResponse } from './support/api-client';
import { TestStack, startStack } from './support/stack';
import {
  DAY_MS,
  EventLog,
  Fold,
  Views,
  comparable,
  expectedDetail,
  expectedListItem,
  expectedOverview,
  expectedReports,
  fold,
  migrationSummary,
  readLog,
  readViews,
  timelineKeys,
  visibleOf,
} from './support/model-fold';
import { TestTenant, createTenant } from './support/tenant';

/**
 * The model-based test of the views (issue 5): random commands through the services, then every view
 * equals an independent fold of the event log (support/model-fold.ts), and a rebuild (R30) equals both.
 *
 * Replay a run: MODEL_SEED=<seed printed by the run> npx jest apps/e2e/src/projection-model.int-spec.ts
 */
const DEFAULT_SEED = 11;
const SEED = process.env.MODEL_SEED ? Number(process.env.MODEL_SEED) : DEFAULT_SEED;
const COMMANDS = Number(process.env.MODEL_COMMANDS ?? 80);

const HOUR_S = 3600;
const DAY_S = 86_400;
/** R8's license table. */
const SKUS = [
  'M365_BUSINESS_BASIC',
  'M365_BUSINESS_STANDARD',
  'O365_E1',
  'O365_E3',
  'M365_BUSINESS_PREMIUM',
  'M365_E3',
  'M365_E5',
  'EMS_E3',
  'EMS_E5',
  'INTUNE_PLAN_1',
];
const MIGRATION_STATES = ['none', 'pendingCheckIn', 'migrated', 'needsSupport', 'blockedApns', 'legacyProfilesExpired'];

// ---------------------------------------------------------------------------------------------
// A seeded PRNG (mulberry32): the same seed gives the same command sequence.

class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  weighted<T extends string>(weights: Record<T, number>): T {
    const entries = Object.entries(weights) as [T, number][];
    let r = this.next() * entries.reduce((s, [, w]) => s + w, 0);
    for (const [k, w] of entries) {
      r -= w;
      if (r < 0) return k;
    }
    return entries[entries.length - 1][0];
  }
}

// ---------------------------------------------------------------------------------------------
// The driver: a tenant, its directory, its devices, as the test knows them.

interface DriverTenant {
  t: TestTenant;
  authority: string;
  groups: string[];
  users: { userId: string; licenses: Set<string> }[];
  devices: DriverDevice[];
}

interface DriverDevice {
  deviceId: string;
  credential: string;
  serialNumber: string;
  unenrolled: boolean;
  /** Commands a check-in handed over, to report on at a later one (R24). */
  sent: string[];
}

interface Outcome {
  n: number;
  tenant: string;
  command: string;
  args: string;
  status: number;
  code?: string;
}

describe('projection model: random commands, then every view equals an independent fold of the event log (R26–R30)', () => {
  let stack: TestStack;
  let intervalMs: number;
  const tenants: DriverTenant[] = [];
  const outcomes: Outcome[] = [];
  let model: Fold;
  let now: string;
  let live: Map<string, Views>;
  let rebuilt: Map<string, Views>;
  const random = new Random(SEED);
  const logFile = join(tmpdir(), `projection-model-${SEED}.log`);

  const clockNow = async () => Date.parse((await stack.anonymous.get('/api/v1/system/clock')).body.now);
  const device = (credential: string) => ({
    checkIn: (body: object) => stack.anonymous.call('POST', '/device/v1/check-in', body, { authorization: `Device ${credential}` }),
  });

  async function record(tenant: DriverTenant | null, command: string, args: string, call: Promise<ApiResponse>): Promise<ApiResponse> {
    const res = await call;
    const outcome: Outcome = { n: outcomes.length, tenant: tenant ? String(tenants.indexOf(tenant)) : '-', command, args, status: res.status };
    if (res.status >= 400) outcome.code = (res.body as { code?: string })?.code;
    outcomes.push(outcome);
    if (res.status >= 500 || res.status === 0) {
      writeLog();
      throw new Error(`seed ${SEED}, command ${outcome.n} ${command} ${args}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    return res;
  }

  function writeLog() {
    writeFileSync(logFile, outcomes.map((o) => `${o.n}\tT${o.tenant}\t${o.command}\t${o.args}\t${o.status}${o.code ? ` ${o.code}` : ''}`).join('\n') + '\n');
  }

  async function apns(tenant: DriverTenant, authority: string) {
    const t = await clockNow();
    const certificatePem = await selfSignedCertificatePem({ notBefore: new Date(t - DAY_MS), notAfter: new Date(t + 400 * DAY_MS) });
    return record(tenant, 'apns', authority, tenant.t.admin.put(tenant.t.path(`/authorities/${authority}/apns-certificate`), { certificatePem }));
  }

  async function configure(tenant: DriverTenant, authority: string, name: string, type: string, groups: string[], platforms: string[], settings: object = {}) {
    const res = await record(
      tenant,
      'configure',
      `${authority} ${name}`,
      tenant.t.admin.post(tenant.t.path(`/authorities/${authority}/configurations`), { name, type, platforms, settings, assignedGroupIds: groups }),
    );
    if (res.status !== 201) throw new Error(`configuration ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  }

  /**
   * R1–R10 set-up: office365 with an APNs certificate, groups, profiles on both authorities (one group
   * with none of Intune's, so that switches to Intune carry R10's warning), compliance policies, users.
   */
  async function setUp(name: string, userCount: number, groupNames: string[]): Promise<DriverTenant> {
    const tenant: DriverTenant = { t: await createTenant(stack, name), authority: 'office365', groups: [], users: [], devices: [] };
    tenants.push(tenant);
    const { t } = tenant;
    expect((await record(tenant, 'authority', 'office365', t.admin.put(t.path('/authority'), { authority: 'office365' }))).status).toBe(200);
    expect((await record(tenant, 'consent', 'appleMdmPush', t.admin.post(t.path('/consents'), { kind: 'appleMdmPush' }))).status).toBe(201);
    expect((await apns(tenant, 'office365')).status).toBe(200);
    for (const g of groupNames) tenant.groups.push((await record(tenant, 'group', g, t.admin.post(t.path('/groups'), { name: g }))).body.groupId);
    const [staff, sales, field] = tenant.groups;
    const all = ['android', 'ios', 'windows'];
    await configure(tenant, 'office365', 'Office Wi-Fi', 'wifi', tenant.groups, all);
    await configure(tenant, 'office365', 'Mail', 'email', [staff, ...(sales ? [sales] : [])], all);
    await configure(tenant, 'office365', 'Field VPN', 'vpn', [field ?? staff], ['android', 'ios']);
    await configure(tenant, 'office365', 'O365 Baseline', 'compliance', [sales ?? staff], all, { blockJailbroken: true, requirePasscode: true });
    // Intune: nothing for the last group (R10).
    const intuneGroups = tenant.groups.slice(0, -1);
    await configure(tenant, 'intune', 'Office Wi-Fi', 'wifi', intuneGroups, all);
    await configure(tenant, 'intune', 'VPN', 'vpn', [staff], ['android', 'ios']);
    await configure(tenant, 'intune', 'Corp Root', 'certificate', intuneGroups, all);
    await configure(tenant, 'intune', 'Baseline', 'compliance', [staff], all, { minOsVersion: '13.0', requireEncryption: true });
    for (let i = 0; i < userCount; i++) {
      const groupIds = random.chance(0.3) ? [tenant.groups[tenant.groups.length - 1]] : [random.pick(tenant.groups), random.pick(tenant.groups)];
      const res = await record(
        tenant,
        'user',
        `u${i}`,
        t.admin.post(t.path('/users'), { userPrincipalName: `u${i}-${SEED}@contoso.com`, groupIds: [...new Set(groupIds)] }),
      );
      expect(res.status).toBe(201);
      const user = { userId: res.body.userId as string, licenses: new Set<string>() };
      tenant.users.push(user);
      if (random.chance(0.9)) {
        const sku = random.pick(SKUS);
        if ((await record(tenant, 'license+', `u${i} ${sku}`, t.admin.post(t.path(`/users/${user.userId}/licenses`), { sku }))).status === 200) {
          user.licenses.add(sku);
        }
      }
    }
    return tenant;
  }

  const healthyOr = () => ({
    osVersion: random.pick(['12.0', '13.0', '14.1', '17.4', '10.0.22631']),
    encrypted: random.chance(0.8),
    jailbroken: random.chance(0.1),
    passcodeSet: random.chance(0.85),
  });

  let serials = 0;
  let farJumps = 0;

  async function step(n: number): Promise<void> {
    const tenant = tenants.length > 1 && random.chance(0.3) ? tenants[1] : tenants[0];
    const { t } = tenant;
    const active = tenant.devices.filter((d) => !d.unenrolled);
    const command = random.weighted({
      // Devices first, so that the changes later have devices to move.
      enroll: n < COMMANDS / 4 ? 40 : 14,
      licenseAdd: 6,
      licenseRemove: 4,
      authority: 4,
      checkIn: active.length ? 26 : 0,
      action: tenant.devices.length ? 7 : 0,
      unenroll: active.length ? 2 : 0,
      // Intune's APNs certificate comes late, if at all: Apple devices moving there are blocked until then (R22).
      apns: n < COMMANDS / 2 ? 0 : 3,
      advance: 8,
    });
    switch (command) {
      case 'enroll': {
        const reuse = tenant.devices.length > 0 && random.chance(0.1) ? random.pick(tenant.devices).serialNumber : null;
        const serialNumber = reuse ?? `SN-${SEED}-${serials++}`;
        const body: Record<string, unknown> = random.chance(0.25)
          ? { platform: 'windows', enrollmentType: 'bulk', serialNumber, osVersion: '10.0.22631' }
          : {
              platform: random.pick(['android', 'ios', 'windows']),
              enrollmentType: 'user',
              userId: random.pick(tenant.users).userId,
              serialNumber,
              osVersion: random.pick(['12.0', '14.1', '17.4']),
            };
        if (random.chance(0.3)) body.deviceName = `Device ${serialNumber}`;
        const res = await record(tenant, 'enroll', `${body.platform} ${body.enrollmentType} ${body.userId ?? '-'} ${serialNumber}`, t.admin.post(t.path('/enrollments'), body));
        if (res.status === 201) tenant.devices.push({ deviceId: res.body.deviceId, credential: res.body.deviceCredential, serialNumber, unenrolled: false, sent: [] });
        return;
      }
      case 'licenseAdd': {
        const user = random.pick(tenant.users);
        const sku = random.pick(SKUS);
        const res = await record(tenant, 'license+', `${user.userId} ${sku}`, t.admin.post(t.path(`/users/${user.userId}/licenses`), { sku }));
        if (res.status === 200) user.licenses.add(sku);
        return;
      }
      case 'licenseRemove': {
        const user = random.pick(tenant.users);
        const sku = user.licenses.size && random.chance(0.85) ? random.pick([...user.licenses].sort()) : random.pick(SKUS);
        const res = await record(tenant, 'license-', `${user.userId} ${sku}`, t.admin.delete(t.path(`/users/${user.userId}/licenses/${sku}`)));
        if (res.status === 200) user.licenses.delete(sku);
        return;
      }
      case 'authority': {
        // Mostly a real change; now and then the current value again (R3: nothing happens).
        const others = ['intune', 'office365', 'coexistence'].filter((a) => a !== tenant.authority || random.chance(0.1));
        const authority = random.pick(others);
        const res = await record(tenant, 'authority', authority, t.admin.put(t.path('/authority'), { authority }));
        if (res.status === 200) tenant.authority = res.body.authority;
        return;
      }
      case 'checkIn': {
        // Now and then a device that has left: its credential is refused (401).
        const d = random.chance(0.1) ? random.pick(tenant.devices) : random.pick(active);
        const results = d.sent
          .filter(() => random.chance(0.7))
          .map((commandId) => (random.chance(0.8) ? { commandId, status: 'done' } : { commandId, status: 'failed', error: 'declined by the user' }));
        const body = { state: healthyOr(), ...(results.length && { commandResults: results }) };
        const res = await record(tenant, 'checkIn', `${d.deviceId} ${JSON.stringify(body.state)} results=${results.length}`, device(d.credential).checkIn(body));
        if (res.status === 200) {
          d.sent = d.sent.filter((c) => !results.some((r) => r.commandId === c));
          d.sent.push(...(res.body.commands as { commandId: string }[]).map((c) => c.commandId));
        }
        return;
      }
      case 'action': {
        const d = random.chance(0.85) && active.length ? random.pick(active) : random.pick(tenant.devices);
        const type = random.pick(['remoteLock', 'wipe', 'retire', 'sync']);
        await record(tenant, 'action', `${d.deviceId} ${type}`, t.admin.post(t.path(`/devices/${d.deviceId}/actions`), { type }));
        return;
      }
      case 'unenroll': {
        const d = random.pick(active);
        const res = await record(tenant, 'unenroll', d.deviceId, t.admin.post(t.path(`/devices/${d.deviceId}/unenroll`)));
        if (res.status === 200) d.unenrolled = true;
        return;
      }
      case 'apns':
        await apns(tenant, random.chance(0.8) ? 'intune' : 'office365');
        return;
      case 'advance': {
        let seconds = random.int(HOUR_S, 10 * DAY_S);
        // Far enough for R23's 7 days now and then; rarely far enough for certificates to near expiry (R15).
        if (random.chance(0.15)) seconds = random.int(7 * DAY_S, 8 * DAY_S);
        else if (farJumps < 3 && random.chance(0.12)) {
          farJumps++;
          seconds = random.int(150 * DAY_S, 250 * DAY_S);
        }
        await record(null, 'advance', `${seconds}s`, stack.operator.post('/api/v1/system/clock/advance', { seconds }));
        return;
      }
    }
  }

  const services = () => [stack.authority, stack.licensing, stack.enrollment, stack.deviceSync, stack.projection];
  /** Every outbox empty and every consumer group at the end of its topics, twice in a row. */
  async function quiesce(): Promise<void> {
    const deadline = Date.now() + 60_000;
    let stable = 0;
    while (stable < 2) {
      if (Date.now() > deadline) throw new Error('the services did not quiesce within 60 s');
      const pending = await Promise.all([...services(), stack.gateway].map((s) => s.runtime.relay?.pending() ?? 0));
      const caughtUp = await Promise.all(
        services().flatMap(({ runtime: { kafka, consumption } }) => (consumption ? [groupCaughtUp(kafka, consumption.groupId, consumption.topics)] : [])),
      );
      stable = pending.every((n) => n === 0) && caughtUp.every(Boolean) ? stable + 1 : 0;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async function readEventLog(): Promise<EventLog> {
    return {
      authority: await readLog(stack.authority.runtime.db),
      licensing: await readLog(stack.licensing.runtime.db),
      enrollment: await readLog(stack.enrollment.runtime.db),
      deviceSync: await readLog(stack.deviceSync.runtime.db),
    };
  }

  const filtersFor = (tenant: DriverTenant) => [
    'managedBy=intune',
    'managedBy=office365',
    'compliance=compliant',
    'compliance=noncompliant',
    'compliance=notEvaluated',
    ...MIGRATION_STATES.map((m) => `migration=${m}`),
    'platform=android',
    'platform=ios',
    'platform=windows',
    ...tenant.users.slice(0, 2).map((u) => `userId=${u.userId}`),
  ];

  async function readAllViews(): Promise<Map<string, Views>> {
    const views = new Map<string, Views>();
    for (const tenant of tenants) {
      views.set(tenant.t.tenantId, await readViews(tenant.t, tenant.devices.map((d) => d.deviceId).sort(), filtersFor(tenant)));
    }
    return views;
  }

  beforeAll(async () => {
    const started = Date.now();
    process.stdout.write(`projection model: seed ${SEED} (replay with MODEL_SEED=${SEED}), ${COMMANDS} commands, log ${logFile}\n`);
    stack = await startStack({ testClock: true });
    intervalMs = Number(stack.deviceSync.runtime.config.CHECK_IN_INTERVAL_HOURS) * 3_600_000;
    await setUp('Model A', 6, ['Staff', 'Sales', 'Field']);
    await setUp('Model B', 3, ['Staff', 'Field']);
    for (let i = 0; i < COMMANDS; i++) await step(i);
    writeLog();

    // Quiet: every event delivered, every due sweep run at the final time, delivered again.
    await quiesce();
    for (const s of [...services(), stack.gateway]) await s.runtime.sweeps.run();
    await quiesce();

    const eventLog = await readEventLog();
    model = fold(eventLog, intervalMs);
    // For whoever reads a failure: the log and the fold, next to the command log.
    writeFileSync(
      logFile.replace(/\.log$/, '.json'),
      JSON.stringify({ seed: SEED, eventLog, devices: [...model.devices.values()].map((d) => ({ ...d, actions: [...d.actions.values()] })) }, null, 1),
    );
    now = new Date(await clockNow()).toISOString();
    live = await readAllViews();

    const codes = new Map<string, number>();
    for (const o of outcomes) codes.set(`${o.command} ${o.status}${o.code ? ` ${o.code}` : ''}`, (codes.get(`${o.command} ${o.status}${o.code ? ` ${o.code}` : ''}`) ?? 0) + 1);
    const devices = [...model.devices.values()];
    process.stdout.write(
      `projection model: seed ${SEED}: ${[...codes].map(([k, n]) => `${k}×${n}`).sort().join(', ')}; ` +
        `${devices.length} devices (${devices.filter((d) => d.status === 'active').length} active), ` +
        `migration ${MIGRATION_STATES.map((m) => `${m}=${devices.filter((d) => d.status === 'active' && d.migration === m).length}`).join(' ')}; ` +
        `reports ${tenants
          .map((t) => expectedReports(model, t.t.tenantId, now))
          .map((r) => `redundant=${r.redundant.length} unconfigured=${r.unconfigured.length} removalDue=${r.removalDue.length}`)
          .join(' | ')}; ${Math.round((Date.now() - started) / 1000)} s\n`,
    );
  }, 240_000);

  afterAll(() => stack?.stop());

  const eachTenant = (check: (tenant: DriverTenant, views: Views) => void) => {
    for (const tenant of tenants) check(tenant, live.get(tenant.t.tenantId)!);
  };

  it('the event log is consistent with itself: each fan-out names the device stream version written before it and its schedule (R16, R18)', () => {
    expect(model.inconsistencies).toEqual([]);
  });

  it('R26: the overview of each tenant equals the fold: authority, banner, counts by managedBy, compliance and migration, expected check-ins', () => {
    eachTenant((tenant, views) => {
      const { lagMs, ...overview } = views.overview;
      expect(lagMs).toEqual(expect.any(Number));
      expect({ tenant: tenant.t.tenantId, ...overview }).toEqual({ tenant: tenant.t.tenantId, ...expectedOverview(model, tenant.t.tenantId, intervalMs) });
    });
  });

  it('R27: the device list, each filter, and its pages equal the fold', () => {
    eachTenant((tenant, views) => {
      const expected = visibleOf(model, tenant.t.tenantId).map(expectedListItem);
      expect(views.list).toEqual(expected);
      expect(views.pagedList).toEqual(expected);
      for (const f of filtersFor(tenant)) {
        const [key, value] = f.split('=') as [keyof ReturnType<typeof expectedListItem>, string];
        expect({ filter: f, items: views.filtered[f] }).toEqual({ filter: f, items: expected.filter((i) => i[key] === value) });
      }
    });
  });

  it('R27: each device detail (profiles, redundant and legacy profiles, compliance, certificate and removal date, actions, timeline) equals the fold; a device that left is a 404', () => {
    eachTenant((tenant, views) => {
      const expected: Record<string, unknown> = {};
      const actual: Record<string, unknown> = {};
      for (const d of tenant.devices) {
        const m = model.devices.get(d.deviceId)!;
        expected[d.deviceId] = m.status === 'active' ? expectedDetail(m, intervalMs) : 404;
        const v = views.details[d.deviceId];
        actual[d.deviceId] =
          v === 404
            ? 404
            : {
                ...v,
                timeline: timelineKeys(v.timeline),
              };
      }
      expect(actual).toEqual(expected);
    });
  });

  it('R28: the reports (migration progress, redundant profiles, unconfigured switches, removal due) equal the fold', () => {
    eachTenant((tenant, views) => {
      const expected = expectedReports(model, tenant.t.tenantId, now);
      expect(migrationSummary(views.migration)).toEqual(migrationSummary(expected.migration));
      expect(views.redundant).toEqual(expected.redundant);
      expect(views.pagedRedundant).toEqual(expected.redundant);
      expect(views.unconfigured).toEqual(expected.unconfigured);
      expect(views.removalDue).toEqual(expected.removalDue);
    });
  });

  it('R29: every view says it is as of the newest event of the tenant', () => {
    eachTenant((tenant, views) => {
      const asOf = model.tenants.get(tenant.t.tenantId)!.asOf;
      expect(new Set(views.asOfs)).toEqual(new Set([asOf]));
    });
  });

  it('R30: a rebuild replays the topics into fresh tables and switches over; its views equal the fold and the live ones', async () => {
    const start = await stack.operator.post('/api/v1/system/projection/rebuild');
    expect(start.status).toBe(202);
    const generation = start.body.rebuild.generation;
    const deadline = Date.now() + 90_000;
    for (;;) {
      const status = await stack.operator.get('/api/v1/system/projection/rebuild');
      expect(status.body.rebuild.status).not.toBe('failed');
      if (status.body.rebuild.status === 'switched' && status.body.liveGeneration === generation) break;
      if (Date.now() > deadline) throw new Error(`the rebuild did not switch: ${JSON.stringify(status.body)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    rebuilt = await readAllViews();
    for (const tenant of tenants) {
      const before = comparable(live.get(tenant.t.tenantId)!);
      const after = comparable(rebuilt.get(tenant.t.tenantId)!);
      expect(after).toEqual(before);
    }
    // And the fold, checked as above, on the rebuilt views.
    for (const tenant of tenants) {
      const views = rebuilt.get(tenant.t.tenantId)!;
      const { lagMs: _lag, ...overview } = views.overview;
      expect(overview).toEqual(expectedOverview(model, tenant.t.tenantId, intervalMs));
      expect(views.list).toEqual(visibleOf(model, tenant.t.tenantId).map(expectedListItem));
      expect(migrationSummary(views.migration)).toEqual(migrationSummary(expectedReports(model, tenant.t.tenantId, now).migration));
    }
  }, 120_000);

  it('R28/R30: each point of the migration progress is when a device moved after the last request, live and rebuilt', () => {
    for (const tenant of tenants) {
      const expected = expectedReports(model, tenant.t.tenantId, now).migration;
      for (const views of [live.get(tenant.t.tenantId)!, rebuilt.get(tenant.t.tenantId)!]) {
        const { lagMs: _lag, ...migration } = views.migration;
        expect(migration).toEqual(expected);
      }
    }
  });
});
