import { spawn } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { serviceCommand, stackServices } from '../../tools/stack/services';
import type { BenchStack } from '../process-stack';
import { freePort } from '@mdm/platform/testing';
import type { ProcessStack } from '../../tools/stack/processes';
import { jsonCall, keepAliveAgent } from '../http';
import { BenchResult, result } from '../report';
import { seedDevices } from './device-sync';
import { Run, closedLoop } from './enroll';

const state = { osVersion: '14.0', encrypted: true, jailbroken: false, passcodeSet: true };
/** Recovery target after one of two instances is killed (the 15 s for any killed service). */
export const SCALE_OUT_RECOVERY_TARGET_S = 15;

/**
 * (n) Check-ins at 200 concurrency through a gateway balancing two device-sync instances against a
 * gateway in front of one of them, in alternating turns of one run (the same database, broker and
 * devices; the second gateway is an extra process of the same build). Then one of the two instances
 * is killed (SIGKILL) under the same load: the seconds from the kill until check-ins answer 200
 * again without a miss, the answers that were not 200, and the seconds until the supervisor's
 * restart is back in the pool.
 */
export async function scaleOutScenario(stack: BenchStack & { processes: ProcessStack; envOf(app: string): NodeJS.ProcessEnv }): Promise<BenchResult[]> {
  const SCENARIO = '(n) two device-sync instances';
  const clients = 200;
  const turnMs = Number(process.env.BENCH_SCALE_OUT_TURN_MS ?? 8_000);
  const instances = stack.processes.services.filter((s) => s.app === 'device-sync');
  if (instances.length !== 2) throw new Error(`(n) needs two device-sync instances, has ${instances.length}`);

  // A second gateway that knows the first instance only.
  const port = await freePort();
  const single = spawn(process.execPath, serviceCommand('api-gateway', 'dist'), {
    env: { ...stack.envOf('api-gateway'), ...urlsOf(stack.processes), DEVICE_SYNC_URL: instances[0].url, GATEWAY_PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const singleUrl = `http://127.0.0.1:${port}`;
  try {
    await until(async () => (await fetch(`${singleUrl}/health`).catch(() => undefined))?.ok === true, 90_000);
    const tenant = await seedDevices(stack, clients, 'intune');
    const agent = keepAliveAgent(clients + 16);
    const loop = (gateway: string, ms: number) =>
      closedLoop(clients, Number.MAX_SAFE_INTEGER, ms, 200, (_, client) =>
        jsonCall(agent, `${gateway}/device/v1/check-in`, { method: 'POST', headers: { authorization: `Device ${tenant.prefix}-${client + 1}` }, body: { state } }),
      );
    await loop(stack.gateway.url, 3_000);
    await loop(singleUrl, 3_000);
    const runs: Record<'one' | 'two', Run[]> = { one: [], two: [] };
    for (let turn = 0; turn < 2; turn++) {
      runs.one.push(await loop(singleUrl, turnMs));
      runs.two.push(await loop(stack.gateway.url, turnMs));
    }
    const rate = (rs: Run[]) => rs.reduce((s, r) => s + r.done, 0) / rs.reduce((s, r) => s + r.seconds, 0);
    const p99 = (rs: Run[]) => Math.max(...rs.map((r) => r.p99));
    const failures = [...runs.one, ...runs.two].reduce((s, r) => s + r.failures, 0);

    // One instance killed under load.
    const misses: number[] = [];
    let killedAt = 0;
    const killed = instances[1];
    const load = closedLoop(clients, Number.MAX_SAFE_INTEGER, 12_000, 200, async (_, client) => {
      const answer = await jsonCall(agent, `${stack.gateway.url}/device/v1/check-in`, {
        method: 'POST',
        headers: { authorization: `Device ${tenant.prefix}-${client + 1}` },
        body: { state },
      }).catch((err: Error) => ({ status: 0, body: err.message }));
      if (answer.status !== 200) misses.push(performance.now());
      return answer;
    });
    await new Promise((r) => setTimeout(r, 3_000));
    const pid = killed.supervisor.child.pid;
    killedAt = performance.now();
    killed.supervisor.child.kill('SIGKILL');
    const afterKill = await load;
    const recoveredS = Math.max(0, ...misses.filter((t) => t >= killedAt).map((t) => (t - killedAt) / 1000));
    await until(async () => killed.supervisor.child.pid !== pid && (await fetch(`${killed.url}/health`).catch(() => undefined))?.ok === true, 60_000);
    const backS = (performance.now() - killedAt) / 1000;
    await agent.destroy();
    process.stdout.write(`\n  (n) load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${os.cpus().length} cores\n`);
    return [
      result(SCENARIO, `check-ins, ${clients} devices, gateway → 1 instance`, rate(runs.one), 'check-in/s'),
      // No target on the ratio: two instances help only where cores are free for them (report it honestly).
      result(SCENARIO, `check-ins, ${clients} devices, gateway → 2 instances`, rate(runs.two), 'check-in/s', { baseline: rate(runs.one) }),
      result(SCENARIO, 'p99, 1 instance', p99(runs.one), 'ms'),
      result(SCENARIO, 'p99, 2 instances', p99(runs.two), 'ms'),
      result(SCENARIO, 'non-200 answers (before the kill)', failures, 'answers', { target: 0, atMost: true }),
      result(SCENARIO, 'one of 2 killed: last non-200 after the kill', recoveredS, 's', { target: SCALE_OUT_RECOVERY_TARGET_S, atMost: true }),
      result(SCENARIO, 'one of 2 killed: non-200 answers', afterKill.failures, 'answers'),
      result(SCENARIO, 'one of 2 killed: restarted and healthy after', backS, 's'),
    ];
  } finally {
    single.kill('SIGTERM');
  }
}

/** Every service's instances, as the stack told the gateway. */
function urlsOf(processes: ProcessStack): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const { app, urlVariable } of stackServices) {
    if (urlVariable) urls[urlVariable] = processes.services.filter((s) => s.app === app).map((s) => s.url).join(',');
  }
  return urls;
}

async function until(check: () => Promise<boolean>, capMs: number): Promise<void> {
  const deadline = performance.now() + capMs;
  while (performance.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`(n): not within ${capMs / 1000} s`);
}
