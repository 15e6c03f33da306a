import { ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { Summary } from '../../apps/device-agent/src/summary';
import type { FleetState } from '../../apps/device-agent/src/state-file';
import type { BenchStack } from '../process-stack';
import { CpuMeter } from '../cpu';
import { expectStatus } from '../http';
import { seconds } from '../infra';
import { BenchResult, result } from '../report';
import { gatewayCall } from './enroll';

export const FLEET_MIGRATION_TARGET_S = 60;
/** How long (m) waits for the migration: past the target, so that a miss still has its figure. */
const MIGRATION_CAP_S = 300;
/** The agent's enrollments in flight: as many as (f)'s clients. */
const ENROLL_CONCURRENCY = 32;
const ROOT = path.join(__dirname, '..', '..');
const register = path.join(ROOT, 'tools', 'register.js');

/** The device agent as `npm run devices -- … --json` runs it, a process of its own; its summaries as they come. */
class AgentProcess {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'bench-fleet-'));
  readonly stateFile = path.join(this.dir, 'fleet.json');
  readonly started = performance.now();
  latest: Summary | undefined;
  /** When the first summary came: the set-up (tenant, users) is done then. */
  firstSummaryAfter = NaN;
  /** When the last device was enrolled (the agent's own count). */
  enrolledAfter = NaN;
  private lastProgress = 0;
  readonly child: ChildProcess;
  private readonly exited: Promise<unknown>;

  constructor(
    args: string[],
    private readonly devices: number,
  ) {
    // --expose-gc: the agent collects garbage before it measures its memory (see summary.ts).
    this.child = fork(path.join(ROOT, 'apps', 'device-agent', 'src', 'main.ts'), [...args, '--state', this.stateFile, '--json', '--interval', '1', '--log', path.join(this.dir, 'agent.log'), '--log-level', 'warn'], {
      execArgv: ['--expose-gc', '-r', register],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    this.exited = new Promise((resolve) => this.child.on('exit', resolve));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const latest = (this.latest = JSON.parse(line) as Summary);
      const at = seconds(this.started);
      if (Number.isNaN(this.firstSummaryAfter)) this.firstSummaryAfter = at;
      if (Number.isNaN(this.enrolledAfter) && latest.devices.enrolled >= this.devices) this.enrolledAfter = at;
      // A line every 15 s: on a loaded machine a long phase shows where it stands.
      if (at - this.lastProgress >= 15) {
        this.lastProgress = at;
        const d = latest.devices;
        process.stdout.write(
          `\n  ${at.toFixed(0)} s: enrolled ${d.enrolled}, polls ${d.pollsOpen}, check-ins ${latest.totals.checkIns} (${latest.checkInsPerSecond}/s, ${d.checkInsQueued} queued), errors ${latest.totals.errors}`,
        );
      }
    });
  }

  /** Polls `check` every 250 ms up to capMs; false (and the last summary printed) when it never held. */
  async until(what: string, capMs: number, check: (s: Summary | undefined) => boolean | Promise<boolean>): Promise<boolean> {
    const deadline = performance.now() + capMs;
    while (performance.now() < deadline) {
      // A process ended by a signal has no exit code, only a signal code.
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`the device agent exited (${this.child.exitCode ?? this.child.signalCode}) while ${what}`);
      if (await check(this.latest)) return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    process.stdout.write(`\n  ${what}: not within ${capMs / 1000} s (last summary ${JSON.stringify(this.latest)})\n`);
    return false;
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    this.printFirstErrors();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The agent logs the first error of each kind with what the server said: the place to start looking. */
  private printFirstErrors(): void {
    const log = path.join(this.dir, 'agent.log');
    if (!existsSync(log)) return;
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      if (!line.includes('first error of its kind')) continue;
      const { kind, detail } = JSON.parse(line) as { kind: string; detail?: unknown };
      process.stdout.write(`\n  first "${kind}": ${JSON.stringify(detail).slice(0, 400)}`);
    }
  }
}

/** Every device enrolled, checked in once and polling, nothing queued. */
const allUp = (devices: number) => (s: Summary | undefined) =>
  !!s && s.devices.enrolled === devices && s.devices.pollsOpen === devices && s.totals.checkIns >= devices && s.devices.checkInsQueued === 0 && s.devices.checkInsInFlight === 0;

function memoryRows(scenario: string, s: Summary): BenchResult[] {
  return [
    result(scenario, `agent memory per device, every poll open (RSS growth; ${s.memory.rssMb} MB in all)`, s.memory.rssPerDeviceKb, 'KB'),
    result(scenario, 'agent memory per device, every poll open (JS heap growth)', s.memory.heapPerDeviceKb, 'KB'),
  ];
}

/**
 * (m) The device agent enrolls a fleet through the gateway into a tenant on office365 and keeps
 * every device's long poll open; then the admin moves the tenant to intune. Measured: from the
 * change to every device migrated in the views (R20, R26), and the agent's memory per device.
 *
 * Every call goes through a gateway, as a device's would (services take only the gateway's signed
 * context). The gateway relays each waiting poll over a connection of its own, so N polls hold 2N
 * files in one gateway process, and this machine allows 20,000 per process (README, "Device agent"):
 * the polls are spread over the stack's gateway and a replica of it (`gatewayReplicas`), as a
 * deployment balances devices over several. Enrollments, check-ins and the views use the first.
 */
export async function deviceAgentScenario(stack: BenchStack, devices = Number(process.env.BENCH_FLEET_DEVICES ?? 10_000)): Promise<BenchResult[]> {
  const SCENARIO = '(m) device agent';
  // prettier-ignore
  const agent = new AgentProcess([
    '--gateway', stack.gateway.url, '--poll-url', [stack.gateway, ...(stack.gatewayReplicas ?? [])].map((g) => g.url).join(','), '--devices', String(devices),
    '--operator-token', stack.operatorToken, '--authority', 'office365', '--create-users', String(Math.ceil(devices / 10)),
    '--licenses', 'M365_E3', '--platforms', 'android:2,windows:1,ios:1', '--enroll-concurrency', String(ENROLL_CONCURRENCY), '--concurrency', '64',
  ], devices);
  // Where the CPU goes, per enrollment and per migrated device: each service, Postgres and the agent.
  const meter = () => CpuMeter.start([...(stack.metered?.() ?? []), { name: 'device agent', pid: agent.child.pid! }]);
  try {
    const up = allUp(devices);
    if (!(await agent.until('setting up the tenant and its users', 600_000, (s) => s !== undefined))) throw new Error('the agent did not set up its tenant');
    const enrolling = await meter();
    // Enrollment is the set-up, not the figure, and takes longer than the migration.
    const ready = await agent.until('enrolling with every poll open', 600_000 + devices * 150, (s) => up(s) && !!s!.views && 'total' in s!.views && s!.views.total === devices);
    if (!ready) throw new Error('the fleet did not come up');
    const steady = agent.latest!;
    const enrollCpu = await enrolling.perUnit(SCENARIO, devices, 'enrollment (until checked in, polling, in the views)');
    process.stdout.write(
      `\n  tenant and users after ${agent.firstSummaryAfter.toFixed(1)} s; ${devices} devices enrolled after ${agent.enrolledAfter.toFixed(1)} s; checked in, polls open, in the views after ${seconds(agent.started).toFixed(1)} s (${steady.totals.errors} errors; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})\n`,
    );
    const enrollRate = devices / (agent.enrolledAfter - agent.firstSummaryAfter);
    const state = JSON.parse(readFileSync(agent.stateFile, 'utf8')) as FleetState;
    const before = { checkIns: steady.totals.checkIns, notifications: steady.totals.notifications };
    const migrating = await meter();
    const start = performance.now();
    await expectStatus('change authority', 200, gatewayCall(stack, 'PUT', `/api/v1/tenants/${state.tenantId}/authority`, state.adminToken, { authority: 'intune' }));
    let migrated = 0;
    // Where the time goes: every device notified (its poll answered), every device checked in (the agent's counts), then the views.
    const phases: { notified?: number; checkedIn?: number } = {};
    const all = await agent.until('every device migrated in the views', MIGRATION_CAP_S * 1000, async (s) => {
      if (s && phases.notified === undefined && s.totals.notifications - before.notifications >= devices) phases.notified = seconds(start);
      if (s && phases.checkedIn === undefined && s.totals.checkIns - before.checkIns >= devices) phases.checkedIn = seconds(start);
      const res = await gatewayCall(stack, 'GET', `/api/v1/tenants/${state.tenantId}/overview`, state.adminToken);
      migrated = (res.body as { devices: { byMigration: { migrated: number } } }).devices.byMigration.migrated;
      return migrated === devices;
    });
    const took = all ? seconds(start) : MIGRATION_CAP_S;
    const at = (t: number | undefined) => (t === undefined ? 'not by then' : `${t.toFixed(1)} s`);
    const after = agent.latest!.totals;
    process.stdout.write(
      `\n  after the change: every device notified ${at(phases.notified)}, checked in ${at(phases.checkedIn)}, migrated in the views ${at(all ? took : undefined)}; ${after.notifications - before.notifications} notifications and ${after.checkIns - before.checkIns} check-ins by then (load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})\n`,
    );
    const errors = agent.latest!.totals.errors;
    if (errors > 0) process.stdout.write(`\n  agent errors: ${JSON.stringify(agent.latest!.errorsByKind)}\n`);
    return [
      result(SCENARIO, `${devices} devices, polls open: change → all migrated in the views${all ? '' : ` (${migrated} by the cap)`}`, took, 's', {
        target: FLEET_MIGRATION_TARGET_S,
        atMost: true,
      }),
      ...memoryRows(SCENARIO, steady),
      result(SCENARIO, `enrollments through the gateway, the agent's ${ENROLL_CONCURRENCY} at once (a CSR each)`, enrollRate, 'enroll/s'),
      ...enrollCpu,
      ...(await migrating.perUnit(SCENARIO, devices, 'migrated device (change to all in the views)')),
      result(SCENARIO, 'agent errors (enrollment to migration)', errors, 'errors', { target: 0, atMost: true }),
    ];
  } finally {
    await agent.stop();
  }
}

/**
 * (m2) The device agent alone: 10,000 devices against a stand-in of the device API that answers at
 * once (bench/device-api-stub.ts), so the figures are the agent's own: enrolled (a CSR each) and
 * polling, its memory per device, and how fast it turns 10,000 notifications into check-ins.
 */
export async function agentAloneScenario(devices = Number(process.env.BENCH_FLEET_DEVICES ?? 10_000)): Promise<BenchResult[]> {
  const SCENARIO = '(m2) device agent alone';
  const stub = fork(path.join(ROOT, 'bench', 'device-api-stub.ts'), [], { execArgv: ['-r', register] });
  const port = await new Promise<number>((resolve, reject) => {
    stub.once('message', (m: { port: number }) => resolve(m.port));
    stub.once('exit', (code) => reject(new Error(`the device API stub exited (${code})`)));
  });
  // prettier-ignore
  const agent = new AgentProcess([
    '--gateway', `http://127.0.0.1:${port}`, '--tenant', randomUUID(), '--token', 'stub', '--devices', String(devices),
    '--platforms', 'android', '--enroll-concurrency', '32', '--concurrency', '64',
  ], devices);
  try {
    if (!(await agent.until('enrolling with every poll open', 900_000, allUp(devices)))) throw new Error('the fleet did not come up');
    const upAfter = seconds(agent.started);
    const steady = agent.latest!;
    const before = steady.totals.checkIns;
    const start = performance.now();
    stub.send({ notifyAll: true });
    const all = await agent.until('every notified device checked in', 120_000, (s) => !!s && s.totals.checkIns - before >= devices);
    return [
      result(SCENARIO, `${devices} devices enrolled (a CSR each), checked in, every poll open`, upAfter, 's'),
      ...memoryRows(SCENARIO, steady),
      result(SCENARIO, `${devices} notifications → every device checked in (summary each second)`, all ? seconds(start) : 120, 's'),
      result(SCENARIO, 'agent errors', agent.latest!.totals.errors, 'errors', { target: 0, atMost: true }),
    ];
  } finally {
    await agent.stop();
    stub.kill();
  }
}
