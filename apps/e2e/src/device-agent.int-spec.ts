import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '@mdm/platform/logging';
import { eventually } from '@mdm/platform/testing';
import { AgentOptions, RunningAgent, parseMix, startAgent } from '../../device-agent/src/agent';
import { FleetState, Platform } from '../../device-agent/src/state-file';
import { TestStack, startStack } from './support/stack';

const DEVICES = 12;
const HOURS_9 = 9 * 3600;

/**
 * The device agent against the whole system behind the gateway: it makes its tenant and users,
 * enrolls a mixed fleet, keeps the long polls open and follows the server's (test) clock.
 */
describe('device agent: a simulated fleet through an authority change (R16, R18, R20, R24)', () => {
  let stack: TestStack;
  let dir: string;
  let agent: RunningAgent | undefined;

  beforeAll(async () => {
    stack = await startStack({ testClock: true });
    dir = mkdtempSync(path.join(tmpdir(), 'device-agent-'));
  });
  afterAll(async () => {
    await agent?.stop();
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const options = (stateFile: string): AgentOptions => ({
    gateway: stack.gateway.url,
    stateFile,
    devices: DEVICES,
    platforms: parseMix<Platform>('android:2,windows:1,ios:1'),
    noncompliantShare: 0,
    operatorToken: stack.operatorToken,
    authority: 'office365',
    createUsers: 4,
    licenses: parseMix('M365_E3'),
    waitSeconds: 20,
    jitterMs: 60_000,
    concurrency: 8,
    enrollConcurrency: 4,
    pollRampPerSecond: 1000,
    sign: false,
    clockRefreshMs: 200,
    logger: createLogger('device-agent', process.env.TEST_LOG_LEVEL ?? 'silent'),
  });

  async function overview(state: FleetState) {
    const res = await stack.client(state.adminToken!).get(`/api/v1/tenants/${state.tenantId}/overview`);
    expect(res.status).toBe(200);
    return res.body.devices;
  }

  const advance = async (seconds: number) => expect((await stack.operator.post('/api/v1/system/clock/advance', { seconds })).status).toBe(200);

  it('R20: every device of the fleet migrates in the views, a remote lock is done, devices check in on the server clock, and a resumed fleet keeps its devices', async () => {
    const stateFile = path.join(dir, 'fleet.json');
    agent = await startAgent(options(stateFile));
    await agent.enrollment;
    const { state, fleet } = agent;
    expect(state.devices).toHaveLength(DEVICES);
    expect(fleet.counters.enrolled).toBe(DEVICES);
    expect(state.devices.map((d) => d.platform).sort()).toEqual([...Array(6).fill('android'), ...Array(3).fill('ios'), ...Array(3).fill('windows')]);
    expect(new Set(state.devices.map((d) => d.userId)).size).toBe(4);

    // Enrolled, each checks in once and keeps a long poll open; the views see all on office365.
    await eventually(async () => {
      expect(fleet.snapshot()).toMatchObject({ pollsOpen: DEVICES, checkInsQueued: 0, checkInsInFlight: 0, scheduled: DEVICES });
      expect(fleet.counters.checkIns).toBe(DEVICES);
      expect((await overview(state)).byManagedBy).toEqual({ intune: 0, office365: DEVICES });
    }, 30_000, 200);

    // R16, R17, R20: the change notifies every device through its long poll; each checks in and migrates.
    const admin = stack.client(state.adminToken!);
    expect((await admin.put(`/api/v1/tenants/${state.tenantId}/authority`, { authority: 'intune' })).status).toBe(200);
    await eventually(async () => {
      const devices = await overview(state);
      expect(devices.byManagedBy).toEqual({ intune: DEVICES, office365: 0 });
      expect(devices.byMigration.migrated).toBe(DEVICES);
    }, 30_000, 250);
    expect(fleet.counters.notifications).toBeGreaterThanOrEqual(DEVICES);
    expect(state.devices.every((d) => d.managedBy === 'intune')).toBe(true);

    // R24: a remote lock reaches the device by its poll, runs, and its result comes back.
    const target = state.devices[0];
    const queued = await admin.post(`/api/v1/tenants/${state.tenantId}/devices/${target.deviceId}/actions`, { type: 'remoteLock' });
    expect(queued.status).toBe(202);
    await eventually(async () => {
      const action = await admin.get(`/api/v1/tenants/${state.tenantId}/devices/${target.deviceId}/actions/${queued.body.commandId}`);
      expect(action.body.status).toBe('done');
    }, 20_000, 200);
    expect(target.locked).toBe(true);
    expect(state.devices.filter((d) => d.locked)).toHaveLength(1);

    // R18: nothing is due for 8 hours; the test clock moves 9 and every device checks in on its schedule.
    const before = fleet.counters.checkIns;
    await advance(HOURS_9);
    await eventually(async () => expect(fleet.counters.checkIns - before).toBeGreaterThanOrEqual(DEVICES), 20_000, 200);
    expect(fleet.counters.errors).toBe(0);

    // Stopped and resumed from the state file: the same devices, no enrollment, credentials and keys kept.
    await agent.stop();
    agent = undefined;
    const kept = JSON.parse(readFileSync(stateFile, 'utf8')) as FleetState;
    expect(kept.devices.map((d) => d.deviceId)).toEqual(state.devices.map((d) => d.deviceId));
    expect(kept.devices.every((d) => d.credential.startsWith('dc_') && d.key.length > 100 && !d.removed)).toBe(true);
    agent = await startAgent(options(stateFile));
    await agent.enrollment;
    const resumed = agent.fleet;
    expect(resumed.counters.enrolled).toBe(0);
    expect(agent.state.devices.map((d) => d.deviceId)).toEqual(kept.devices.map((d) => d.deviceId));
    await eventually(async () => expect(resumed.snapshot()).toMatchObject({ pollsOpen: DEVICES, scheduled: DEVICES }), 20_000, 200);
    await advance(HOURS_9);
    await eventually(async () => expect(resumed.counters.checkIns).toBeGreaterThanOrEqual(DEVICES), 20_000, 200);
    expect(resumed.counters).toMatchObject({ removed: 0, errors: 0 });
    expect((await overview(agent.state)).total).toBe(DEVICES);
  }, 180_000);
});
