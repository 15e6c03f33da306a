import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { BenchStack } from '../process-stack';
import { benchConfig } from '../config';
import { Answer, expectStatus, jsonCall, keepAliveAgent, percentile } from '../http';
import { caughtUp, seconds } from '../infra';
import { BenchResult, result } from '../report';

const SCENARIO = '(f) enroll';
export const ENROLL_TARGET_PER_SECOND = 300;
export const ENROLL_P99_TARGET_MS = 200;

/** The load generator's keep-alive connections (one per client, and spare). */
const agent = keepAliveAgent(128);

/** A call through the gateway; once more when a kept-alive socket the server had just closed is reset. */
export function gatewayCall(stack: BenchStack, method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
  const once = () => jsonCall(agent, `${stack.gateway.url}${path}`, { method, token, body });
  return once().catch((err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? once() : Promise.reject(err)));
}

/** Runs `count` calls of `fn` over `workers` concurrent loops. */
async function pool(workers: number, count: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

export interface Tenant {
  tenantId: string;
  adminToken: string;
}

/** A tenant created through the gateway, on `authority`. */
export async function createTenant(stack: BenchStack, name: string, authority: string): Promise<Tenant> {
  const { tenantId, adminToken } = await expectStatus('create tenant', 201, gatewayCall(stack, 'POST', '/api/v1/tenants', stack.operatorToken, { name }));
  await expectStatus('set authority', 200, gatewayCall(stack, 'PUT', `/api/v1/tenants/${tenantId}/authority`, adminToken, { authority }));
  return { tenantId, adminToken };
}

interface EnrollTenant extends Tenant {
  enrollerToken: string;
  userIds: string[];
}

/** A tenant on intune with an enroller token and `users` users, each licensed with EMS_E3. */
async function seedTenant(stack: BenchStack, users: number): Promise<EnrollTenant> {
  const tenant = await createTenant(stack, 'Bench Contoso', 'intune');
  const t = (suffix: string) => `/api/v1/tenants/${tenant.tenantId}${suffix}`;
  const { token: enrollerToken } = await expectStatus('enroller token', 201, gatewayCall(stack, 'POST', t('/tokens'), tenant.adminToken, { role: 'enroller' }));
  const userIds: string[] = new Array(users);
  await pool(16, users, async (i) => {
    const upn = `bench-${i}-${randomBytes(3).toString('hex')}@contoso.com`;
    const u = await expectStatus('create user', 201, gatewayCall(stack, 'POST', t('/users'), tenant.adminToken, { userPrincipalName: upn }));
    await expectStatus('assign EMS_E3', 200, gatewayCall(stack, 'POST', t(`/users/${u.userId}/licenses`), tenant.adminToken, { sku: 'EMS_E3' }));
    userIds[i] = u.userId;
  });
  return { ...tenant, enrollerToken, userIds };
}

/** Of every five enrollments 3 are user ones (of the licensed users in turn) and 2 bulk userless; android and windows alternate. */
function enrollBody(tenant: EnrollTenant, i: number, runId: string): object {
  const serialNumber = `BENCH-${runId}-${i}`;
  const platform = i % 2 ? 'android' : 'windows';
  const osVersion = platform === 'android' ? '14' : '10.0.22631';
  if (i % 5 < 3) return { platform, enrollmentType: 'user', userId: tenant.userIds[i % tenant.userIds.length], serialNumber, osVersion };
  return { platform, enrollmentType: 'bulk', serialNumber, osVersion };
}

export interface Run {
  done: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  failures: number;
  failureSample: string[];
}

/**
 * `clients` concurrent loops of `call` (given the call's index) until `count` calls or `maxMs`;
 * a call fails when its status is not `expected`.
 */
export async function closedLoop(
  clients: number,
  count: number,
  maxMs: number,
  expected: number,
  call: (i: number, client: number) => Promise<Answer>,
  /** Ends the run early (another load it runs beside is over). */
  stop: () => boolean = () => false,
): Promise<Run> {
  const latencies: number[] = [];
  const failureSample: string[] = [];
  let failures = 0;
  let next = 0;
  const start = performance.now();
  const deadline = start + maxMs;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (next < count && performance.now() < deadline && !stop()) {
        const i = next++;
        const t = performance.now();
        const { status, body } = await call(i, client).catch((err: Error) => ({ status: 0, body: err.message }));
        latencies.push(performance.now() - t);
        if (status !== expected) {
          failures++;
          if (failureSample.length < 5) failureSample.push(`${status} ${JSON.stringify(body).slice(0, 200)}`);
        }
      }
    }),
  );
  const took = seconds(start);
  latencies.sort((a, b) => a - b);
  return { done: latencies.length, seconds: took, rate: latencies.length / took, p50: percentile(latencies, 50), p99: percentile(latencies, 99), failures, failureSample };
}

/** The figures of a closed-loop run: rate (against the raw baseline), p50, p99 and the failed answers. */
export function loadRows(
  scenario: string,
  run: Run,
  raw: { rate: number },
  t: { label: string; noun: string; status: number; rate: number; p99: number },
): BenchResult[] {
  if (run.failures) process.stdout.write(`\n  non-${t.status} sample: ${run.failureSample.join('\n  ')}\n`);
  return [
    result(scenario, t.label, run.rate, `${t.noun}/s`, { baseline: raw.rate, target: t.rate, targetOn: 'value' }),
    result(scenario, `${t.noun} latency p50`, run.p50, 'ms'),
    result(scenario, `${t.noun} latency p99`, run.p99, 'ms', { target: t.p99, atMost: true }),
    result(scenario, `non-${t.status} answers`, run.failures, 'answers', { target: 0, atMost: true }),
  ];
}

/**
 * (f) Enrollments per second end to end through the gateway (token lookup, proxy, read-your-writes
 * checks with authority and licensing, prerequisites, MDM certificate, devices row + event + outbox,
 * audit) from 32 concurrent clients after a 10-s warm-up under the same load, against a raw pg
 * BEGIN/INSERT/COMMIT loop at the same concurrency (measured before the stack started).
 */
export async function enrollScenario(stack: BenchStack, raw: { rate: number; units: number; connections: number }): Promise<BenchResult[]> {
  const clients = benchConfig.enrollClients;
  const results = [result(SCENARIO, `raw pg BEGIN; INSERT 1 row; COMMIT, ${raw.connections} conns (${raw.units} rows)`, raw.rate, 'rows/s')];
  const t = performance.now();
  const tenant = await seedTenant(stack, benchConfig.enrollUsers);
  // Enrollment has applied every license before the clock starts: the run measures enrollments, not the replay.
  await caughtUp([stack.enrollment, stack.licensing]);
  process.stdout.write(`\n  tenant with ${benchConfig.enrollUsers} EMS_E3 users in ${seconds(t).toFixed(1)} s\n`);
  const runId = randomBytes(4).toString('hex');
  const path = `/api/v1/tenants/${tenant.tenantId}/enrollments`;
  const enroll = (offset: number) => (i: number) => gatewayCall(stack, 'POST', path, tenant.enrollerToken, enrollBody(tenant, offset + i, runId));
  // Sustained means steady state: per-second counts showed the first ~8 s at three quarters of the
  // later rate, while V8 optimises the hot code of seven processes sharing two cores.
  const warm = await closedLoop(clients, Number.MAX_SAFE_INTEGER, benchConfig.enrollWarmupMs, 201, enroll(0));
  if (warm.failures) throw new Error(`warm-up: ${warm.failures} of ${warm.done} enrollments failed, e.g. ${warm.failureSample.join('; ')}`);
  results.push(result(SCENARIO, `warm-up: the first ${Math.round(warm.seconds)} s of the same load (${warm.done} enrollments)`, warm.rate, 'enroll/s'));
  const run = await closedLoop(clients, benchConfig.enrollCount, benchConfig.enrollMaxMs, 201, enroll(warm.done));
  results.push(
    ...loadRows(SCENARIO, run, raw, {
      label: `enrollments, ${clients} clients via gateway (${run.done} enrollments, ${Math.round(run.seconds)} s)`,
      noun: 'enroll',
      status: 201,
      rate: ENROLL_TARGET_PER_SECOND,
      p99: ENROLL_P99_TARGET_MS,
    }),
  );
  if (run.done < benchConfig.enrollCount) {
    process.stdout.write(`\n  stopped at the ${benchConfig.enrollMaxMs / 1000} s cap after ${run.done} of ${benchConfig.enrollCount}\n`);
  }
  return results;
}
