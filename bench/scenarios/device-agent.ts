import { ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { Summary } from '../../apps/device-agent/src/summary';
import type { FleetState } from '../../apps/device-agent/src/state-file';
import type { BenchStack } from '../process-stack';
import { expectStatus } from '../http';
import { seconds } from '../infra';
import { BenchResult, result } from '../report';
import { gatewayCall } from './enroll';

const SCENARIO = '(m) device agent';
export const FLEET_MIGRATION_TARGET_S = 60;

/**
 * (m) The device agent (`npm run devices`, a process of its own, `--json`) enrolls a fleet through
 * the gateway into a tenant on office365 and keeps every device's long poll open; then the admin
 * moves the tenant to intune. Measured: from the change to every device migrated in the views
 * (R20, R26), and the agent's memory per simulated device with every poll open.
 *
 * The polls go to device-sync directly, as (h)'s do: the gateway relays each poll over a connection
 * of its own, so 10,000 polls through one gateway process need 20,000 files, the whole per-process
 * limit of this machine (README, "Device agent"). Enrollments, check-ins and the views go through the gateway.
 */
export async function deviceAgentScenario(stack: BenchStack, devices = Number(process.env.BENCH_FLEET_DEVICES ?? 10_000)): Promise<BenchResult[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-fleet-'));
  const stateFile = path.join(dir, 'fleet.json');
  const root = path.join(__dirname, '..', '..');
  // prettier-ignore
  const args = [
    '--gateway', stack.gateway.url, '--poll-url', stack.deviceSync.url, '--state', stateFile, '--devices', String(devices),
    '--operator-token', stack.operatorToken, '--authority', 'office365', '--create-users', String(Math.min(1000, devices)),
    '--licenses', 'M365_E3', '--platforms', 'android:2,windows:1,ios:1', '--json', '--interval', '1',
    '--enroll-concurrency', '32', '--concurrency', '64', '--log', path.join(dir, 'device-agent.log'), '--log-level', 'warn',
  ];
  const child: ChildProcess = fork(path.join(root, 'apps', 'device-agent', 'src', 'main.ts'), args, {
    // --expose-gc: the agent collects garbage before it measures its memory (see summary.ts).
    execArgv: ['--expose-gc', '-r', path.join(root, 'tools', 'register.js')],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  let latest: Summary | undefined;
  let setUpAt = NaN;
  const t = performance.now();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    latest = JSON.parse(line) as Summary;
    // The first summary comes once the tenant and its users are made, with the first enrollments.
    if (Number.isNaN(setUpAt)) setUpAt = seconds(t);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const until = async (what: string, capMs: number, check: () => boolean | Promise<boolean>) => {
    const deadline = performance.now() + capMs;
    while (performance.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`the device agent exited (${child.exitCode}) while ${what}`);
      if (await check()) return true;
      await new Promise((r) => setTimeout(r, 250));
    }
    process.stdout.write(`\n  ${what}: not within ${capMs / 1000} s (last summary ${JSON.stringify(latest)})\n`);
    return false;
  };
  try {
    const ready = await until('enrolling with every poll open', 600_000, () => {
      const s = latest;
      return !!s && s.devices.enrolled === devices && s.devices.pollsOpen === devices && s.totals.checkIns >= devices && s.devices.checkInsQueued === 0 && s.devices.checkInsInFlight === 0 && !!s.views && 'total' in s.views && s.views.total === devices;
    });
    if (!ready) throw new Error('the fleet did not come up');
    const steady = latest!;
    process.stdout.write(
      `\n  tenant and users after ${setUpAt.toFixed(1)} s; ${devices} devices enrolled, checked in, polls open after ${seconds(t).toFixed(1)} s (${steady.totals.errors} errors)\n`,
    );
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as FleetState;
    const overview = `/api/v1/tenants/${state.tenantId}/overview`;
    const start = performance.now();
    await expectStatus('change authority', 200, gatewayCall(stack, 'PUT', `/api/v1/tenants/${state.tenantId}/authority`, state.adminToken, { authority: 'intune' }));
    let migrated = 0;
    const all = await until('every device migrated in the views', 120_000, async () => {
      const res = await gatewayCall(stack, 'GET', overview, state.adminToken);
      migrated = (res.body as { devices: { byMigration: { migrated: number } } }).devices.byMigration.migrated;
      return migrated === devices;
    });
    const took = all ? seconds(start) : 120;
    const errors = latest!.totals.errors;
    if (errors > 0) process.stdout.write(`\n  agent errors: ${JSON.stringify(latest!.errorsByKind)}\n`);
    return [
      result(SCENARIO, `${devices} devices, polls open: change → all migrated in the views${all ? '' : ` (${migrated} by the cap)`}`, took, 's', {
        target: FLEET_MIGRATION_TARGET_S,
        atMost: true,
      }),
      result(SCENARIO, `agent memory per device, every poll open (RSS growth; ${steady.memory.rssMb} MB in all)`, steady.memory.rssPerDeviceKb, 'KB'),
      result(SCENARIO, 'agent memory per device, every poll open (JS heap growth)', steady.memory.heapPerDeviceKb, 'KB'),
      result(SCENARIO, 'agent errors (enrollment to migration)', errors, 'errors', { target: 0, atMost: true }),
    ];
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
