import { ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { eventually } from '@mdm/platform/testing';
import type { TestStack } from '../../apps/e2e/src/support/stack';
import type { BenchStack } from '../process-stack';
import { LongPollHub } from '../../apps/device-sync/src/notifications/long-poll-hub';
import { CpuMeter } from '../cpu';
import { ReadYourWritesMeter } from '../read-your-writes-meter';
import { expectStatus, jsonCall, keepAliveAgent } from '../http';
import { seconds } from '../infra';
import { BenchResult, result } from '../report';
import { Tenant, closedLoop, createTenant, gatewayCall, loadRows } from './enroll';

export const FAN_OUT_TARGET_S = 10;
export const LONG_POLL_TARGET_S = 5;
export const CHECK_IN_TARGET_PER_SECOND = 1000;
export const CHECK_IN_P99_TARGET_MS = 250;
/** Every wait of these scenarios is bounded, so that each ends in under 2 minutes. */
const CAP_MS = 60_000;
const USERS = 1000;

/** The credential of seeded device n (1-based): `${prefix}-${n}`; device-sync keeps its sha256. */
interface Seeded extends Tenant {
  prefix: string;
}

/**
 * A tenant created through the gateway on `authority` (device-sync has applied it), with `devices`
 * active android devices written straight into device-sync's tables, each with one of 1,000 users
 * licensed EMS_E3 (Intune), managed by Intune under coexistence.
 */
export async function seedDevices(stack: BenchStack, devices: number, authority: string): Promise<Seeded> {
  const tenant = await createTenant(stack, `Bench devices ${devices}`, authority);
  const db = stack.deviceSync.runtime.db;
  await eventually(async () => {
    const [row] = await db.query<{ authority: string }>('select authority from tenants where tenant_id = $1', [tenant.tenantId]);
    if (row?.authority !== authority) throw new Error('device-sync has not applied the tenant yet');
  }, CAP_MS, 100);
  const prefix = `bench-${randomBytes(6).toString('hex')}`;
  await db.query(
    `insert into users (user_id, tenant_id, licenses)
     select md5($2 || '/u/' || g)::uuid, $1, '{EMS_E3}' from generate_series(1, $3::int) g`,
    [tenant.tenantId, prefix, USERS],
  );
  await db.query(
    `insert into devices (device_id, tenant_id, user_id, platform, credential_hash, status, managed_by, certificate_serial, certificate_not_after)
     select gen_random_uuid(), $1, md5($2 || '/u/' || (g % $4::int + 1))::uuid, 'android',
            encode(sha256(convert_to($2 || '-' || g, 'UTF8')), 'hex'), 'active', $5, 'BENCH' || g, now() + interval '365 days'
       from generate_series(1, $3::int) g`,
    [tenant.tenantId, prefix, devices, USERS, authority === 'coexistence' ? 'intune' : authority],
  );
  await db.query('analyze devices');
  return { ...tenant, prefix };
}

function changeAuthority(stack: BenchStack, tenant: Tenant, authority: string) {
  return expectStatus('change authority', 200, gatewayCall(stack, 'PUT', `/api/v1/tenants/${tenant.tenantId}/authority`, tenant.adminToken, { authority }));
}

async function until(what: string, check: () => Promise<boolean>, capMs = CAP_MS): Promise<boolean> {
  const deadline = performance.now() + capMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  process.stdout.write(`\n  ${what}: not within ${capMs / 1000} s\n`);
  return false;
}

/**
 * (g) One authority change for a tenant of 100,000 devices with a user: time until device-sync has
 * written a notification per device, and until the outbox relay has published them all on the
 * device-notifications topic.
 */
export async function fanOutScenario(stack: TestStack, devices = Number(process.env.BENCH_FAN_OUT_DEVICES ?? 100_000)): Promise<BenchResult[]> {
  const SCENARIO = '(g) fan-out';
  const t = performance.now();
  const tenant = await seedDevices(stack, devices, 'office365');
  process.stdout.write(`\n  ${devices} devices seeded in ${seconds(t).toFixed(1)} s\n`);
  const db = stack.deviceSync.runtime.db;
  const start = performance.now();
  await changeAuthority(stack, tenant, 'intune');
  let written = NaN;
  let published = NaN;
  const allWritten = await until('notifications written', async () => {
    const [{ n }] = await db.query<{ n: number }>('select count(*)::int as n from notifications where tenant_id = $1', [tenant.tenantId]);
    return n >= devices;
  });
  if (allWritten) written = seconds(start);
  const allPublished =
    allWritten &&
    (await until('outbox drained', async () => {
      // Everything the fan-out wrote: the notifications, and the events saying which devices were told.
      const [{ n }] = await db.query<{ n: number }>(`select count(*)::int as n from outbox where published_at is null`);
      return n === 0;
    }));
  if (allPublished) published = seconds(start);
  const cap = CAP_MS / 1000;
  return [
    result(SCENARIO, `${devices} devices: change → all notification rows written`, allWritten ? written : cap, 's', { target: FAN_OUT_TARGET_S, atMost: true }),
    result(SCENARIO, `${devices} devices: change → all published (outbox drained)`, allPublished ? published : cap, 's', { target: FAN_OUT_TARGET_S, atMost: true }),
  ];
}

/**
 * (h) 10,000 devices long polling device-sync directly (waitSeconds=30, real credentials, from a
 * child process), then one authority change: time until every poll has answered with it.
 */
export async function longPollScenario(stack: TestStack, devices = Number(process.env.BENCH_LONG_POLL_DEVICES ?? 10_000)): Promise<BenchResult[]> {
  const SCENARIO = '(h) long poll';
  const tenant = await seedDevices(stack, devices, 'office365');
  const hub = stack.deviceSync.app.get(LongPollHub);
  const before = hub.size;
  const child: ChildProcess = fork(path.join(__dirname, '..', 'long-poll-client.ts'), [stack.deviceSync.url, tenant.prefix, String(devices)], {
    execArgv: ['-r', path.join(__dirname, '..', '..', 'tools', 'register.js')],
    // It calls device-sync in the gateway's place, so it signs as the gateway does.
    env: { ...process.env, MDM_GATEWAY_SIGNING_KEY: stack.signingKey },
  });
  const done = new Promise<{ answered: number; notified: number; errors: number; lastAt: number; sample: string[] }>((resolve, reject) => {
    child.on('message', (m: { done?: boolean }) => m.done && resolve(m as never));
    child.on('exit', (code) => reject(new Error(`long-poll client exited with ${code}`)));
  });
  done.catch(() => undefined);
  try {
    const t = performance.now();
    const waiting = await until('polls waiting', async () => hub.size - before >= devices, 25_000);
    process.stdout.write(`\n  ${hub.size - before} polls waiting after ${seconds(t).toFixed(1)} s\n`);
    const startAt = Date.now();
    await changeAuthority(stack, tenant, 'intune');
    const timeout = new Promise<null>((r) => setTimeout(() => r(null), 40_000).unref());
    const out = await Promise.race([done, timeout]);
    if (!out) throw new Error('the polls did not all answer within 40 s');
    if (out.sample.length) process.stdout.write(`\n  polls without a notification, e.g. ${out.sample.join('; ')}\n`);
    return [
      result(SCENARIO, `${devices} waiting polls: change → all answered`, (out.lastAt - startAt) / 1000, 's', {
        target: LONG_POLL_TARGET_S,
        atMost: true,
      }),
      result(SCENARIO, `polls answered with the notification${waiting ? '' : ' (not all were waiting)'}`, out.notified, 'polls', { target: devices }),
    ];
  } finally {
    child.kill();
  }
}

/**
 * (i) 200 devices checking in through the gateway in closed loops for ~20 s after a 5-s warm-up, against a raw pg
 * BEGIN/INSERT/COMMIT loop at as many connections as Postgres allows up to 200 (before the stack).
 */
export async function checkInScenario(stack: BenchStack, raw: { rate: number; units: number; connections: number }): Promise<BenchResult[]> {
  const SCENARIO = '(i) check-in';
  const clients = Number(process.env.BENCH_CHECK_IN_CLIENTS ?? 200);
  const durationMs = Number(process.env.BENCH_CHECK_IN_MS ?? 20_000);
  // Sustained means steady state: the first seconds under load run code V8 has not optimised yet.
  const warmupMs = Number(process.env.BENCH_CHECK_IN_WARMUP_MS ?? 5_000);
  const tenant = await seedDevices(stack, clients, 'intune');
  const agent = keepAliveAgent(clients + 16);
  const state = { osVersion: '14.0', encrypted: true, jailbroken: false, passcodeSet: true };
  const checkIn = (_: number, client: number) =>
    jsonCall(agent, `${stack.gateway.url}/device/v1/check-in`, {
      method: 'POST',
      headers: { authorization: `Device ${tenant.prefix}-${client + 1}` },
      body: { state },
    });
  const warm = await closedLoop(clients, Number.MAX_SAFE_INTEGER, warmupMs, 200, checkIn);
  if (warm.failures === warm.done) throw new Error(`warm-up: every check-in failed, e.g. ${warm.failureSample.join('; ')}`);
  const cpu = stack.metered && (await CpuMeter.start(stack.metered()));
  const consistency = await ReadYourWritesMeter.start(stack.deviceSync.url);
  const run = await closedLoop(clients, Number.MAX_SAFE_INTEGER, durationMs, 200, checkIn);
  const cpuRows = cpu ? await cpu.perUnit(SCENARIO, run.done, 'check-in') : [];
  const consistencyRows = await consistency.rows(SCENARIO);
  await agent.destroy();
  return [
    result(SCENARIO, `raw pg BEGIN; INSERT 1 row; COMMIT, ${raw.connections} conns (${raw.units} rows)`, raw.rate, 'rows/s'),
    ...loadRows(SCENARIO, run, raw, {
      label: `check-ins, ${clients} devices via gateway (${run.done}, ${Math.round(run.seconds)} s)`,
      noun: 'check-in',
      status: 200,
      rate: CHECK_IN_TARGET_PER_SECOND,
      p99: CHECK_IN_P99_TARGET_MS,
    }),
    ...consistencyRows,
    ...cpuRows,
  ];
}
