import { X509Certificate, randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { Database, sqlMigration } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { RunningService } from '@mdm/platform/http';
import { ReadYourWrites } from '@mdm/platform/inbox';
import { Tokens } from '../../apps/api-gateway/src/access/tokens';
import { AuditLog } from '../../apps/api-gateway/src/audit';
import { EnrollmentsController } from '../../apps/enrollment/src/enrollments.controller';
import { Facts } from '../../apps/enrollment/src/facts';
import { MdmCertificateAuthority } from '../../apps/enrollment/src/mdm-certificate-authority';
import { benchConfig } from '../config';
import { seconds, timeBoxed, withSchema } from '../infra';
import { httpCall, keepAliveAgent } from '../http';
import { cpuSampler, machineBusy, timeMethods } from '../profile';
import { NativeCertificateIssuer } from '../prototypes/native-mdm-certificate';
import { BenchResult, result } from '../report';
import { BenchStack, startBenchStack, waitCaughtUp } from '../stack';

const SCENARIO = '(f) enroll';
export const ENROLL_TARGET_PER_SECOND = 300;
export const ENROLL_P99_TARGET_MS = 200;

/** A plain table shaped like enrollment's devices table, without its indexes beyond the key. */
const RawDevicesTable = sqlMigration(
  'BenchRawDevices1764300000001',
  [
    `create table raw_devices (
       device_id       uuid primary key,
       tenant_id       uuid not null,
       serial_number   text not null,
       platform        text not null,
       user_id         uuid,
       status          text not null,
       certificate_not_after timestamptz not null,
       credential_hash text not null,
       enrolled_at     timestamptz not null)`,
  ],
  ['drop table raw_devices'],
);

/**
 * The Postgres ceiling for one small write transaction per request at the same concurrency: each
 * of the clients' connections runs BEGIN; INSERT one device-like row; COMMIT, in a loop.
 */
async function rawInsertCommit(connections: number): Promise<{ rate: number; units: number }> {
  return withSchema(
    'enroll_pg',
    async (db) => {
      const clients = await Promise.all(
        Array.from({ length: connections }, async () => {
          const c = new Client(db.clientConfig());
          await c.connect();
          return c;
        }),
      );
      try {
        const tenantId = randomUUID();
        const notAfter = new Date(Date.now() + 365 * 86_400_000);
        let seq = 0;
        return await timeBoxed(connections, async (w) => {
          const c = clients[w];
          await c.query('begin');
          await c.query(
            `insert into raw_devices (device_id, tenant_id, serial_number, platform, user_id, status, certificate_not_after, credential_hash, enrolled_at)
             values ($1, $2, $3, 'windows', null, 'active', $4, $5, now())`,
            [randomUUID(), tenantId, `RAW-${seq++}`, notAfter, randomBytes(32).toString('hex')],
          );
          await c.query('commit');
          return 1;
        });
      } finally {
        await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      }
    },
    { migrations: [RawDevicesTable] },
  );
}

interface Answer {
  status: number;
  body: unknown;
}

/** The load generator's keep-alive connections (one per client, and spare). */
const clientAgent = keepAliveAgent(128);

async function call(baseUrl: string, method: string, path: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const h: Record<string, string> = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const { status, text } = await httpCall(clientAgent, `${baseUrl}${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status, body: parsed };
}

async function expectStatus(what: string, status: number, answer: Promise<Answer>): Promise<Record<string, string>> {
  const a = await answer;
  if (a.status !== status) throw new Error(`${what}: ${a.status} ${JSON.stringify(a.body)}`);
  return a.body as Record<string, string>;
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

interface Tenant {
  tenantId: string;
  enrollerToken: string;
  userIds: string[];
}

/** A tenant on intune with an enroller token and `users` users, each licensed with EMS_E3. */
async function seedTenant(stack: BenchStack, users: number): Promise<Tenant> {
  const gw = stack.gateway.url;
  const created = await expectStatus('create tenant', 201, call(gw, 'POST', '/api/v1/tenants', stack.operatorToken, { name: 'Bench Contoso' }));
  const { tenantId, adminToken } = created;
  const t = (suffix: string) => `/api/v1/tenants/${tenantId}${suffix}`;
  await expectStatus('set authority', 200, call(gw, 'PUT', t('/authority'), adminToken, { authority: 'intune' }));
  const { token: enrollerToken } = await expectStatus('enroller token', 201, call(gw, 'POST', t('/tokens'), adminToken, { role: 'enroller' }));
  const userIds: string[] = new Array(users);
  await pool(16, users, async (i) => {
    const u = await expectStatus(
      'create user',
      201,
      call(gw, 'POST', t('/users'), adminToken, { userPrincipalName: `bench-${i}-${randomBytes(3).toString('hex')}@contoso.com` }),
    );
    await expectStatus('assign EMS_E3', 200, call(gw, 'POST', t(`/users/${u.userId}/licenses`), adminToken, { sku: 'EMS_E3' }));
    userIds[i] = u.userId;
  });
  return { tenantId, enrollerToken, userIds };
}

/** Of every five enrollments 3 are user ones (of the licensed users in turn) and 2 bulk userless; android and windows alternate. */
function enrollBody(tenant: Tenant, i: number, runId: string): object {
  const serialNumber = `BENCH-${runId}-${i}`;
  const platform = i % 2 ? 'android' : 'windows';
  const osVersion = platform === 'android' ? '14' : '10.0.22631';
  if (i % 5 < 3) {
    return { platform, enrollmentType: 'user', userId: tenant.userIds[i % tenant.userIds.length], serialNumber, osVersion };
  }
  return { platform, enrollmentType: 'bulk', serialNumber, osVersion };
}

interface Run {
  done: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  failures: number;
  failureSample: string[];
}

/** `count` enrollments from `clients` concurrent keep-alive clients, stopping early at maxMs. */
async function enrollments(
  baseUrl: string,
  tenant: Tenant,
  clients: number,
  count: number,
  maxMs: number,
  firstIndex: number,
  runId: string,
  headers: Record<string, string> = {},
  token: string | undefined = tenant.enrollerToken,
): Promise<Run> {
  const path = `/api/v1/tenants/${tenant.tenantId}/enrollments`;
  const latencies: number[] = [];
  const failureSample: string[] = [];
  let failures = 0;
  let next = 0;
  const start = performance.now();
  const deadline = start + maxMs;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < count && performance.now() < deadline) {
        const i = firstIndex + next++;
        const t = performance.now();
        let status: number;
        let body: unknown;
        try {
          ({ status, body } = await call(baseUrl, 'POST', path, token, enrollBody(tenant, i, runId), headers));
        } catch (err) {
          status = 0;
          body = (err as Error).message;
        }
        latencies.push(performance.now() - t);
        if (status !== 201) {
          failures++;
          if (failureSample.length < 5) failureSample.push(`${status} ${JSON.stringify(body).slice(0, 200)}`);
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? NaN;
  return { done: latencies.length, seconds, rate: latencies.length / seconds, p50: pct(50), p99: pct(99), failures, failureSample };
}

/** Mean server time per route of one service since the last reset, from its own request histogram. */
async function hopTimes(service: RunningService): Promise<string[]> {
  const metric = await service.runtime.metrics.httpDuration.get();
  const sums = new Map<string, { sum: number; count: number }>();
  for (const v of metric.values) {
    const route = `${v.labels.method} ${v.labels.route}`;
    const e = sums.get(route) ?? { sum: 0, count: 0 };
    if (v.metricName?.endsWith('_sum')) e.sum += v.value;
    else if (v.metricName?.endsWith('_count')) e.count += v.value;
    sums.set(route, e);
  }
  return [...sums]
    .filter(([, e]) => e.count > 0)
    .map(([route, e]) => `${service.runtime.definition.name.padEnd(11)} ${route.padEnd(60)} n=${String(e.count).padStart(5)} mean ${((e.sum / e.count) * 1000).toFixed(1)} ms`);
}

/**
 * BENCH_ENROLL_TRY=native-ca: the enrollment service issues with the native prototype instead of
 * @peculiar/x509 (patched in this process only), to measure what that change would give.
 */
function useNativeCertificates(): () => void {
  const proto = MdmCertificateAuthority.prototype as unknown as Record<string, unknown>;
  const original = proto.issue;
  const issuers = new WeakMap<object, Promise<NativeCertificateIssuer>>();
  proto.issue = async function (this: { db: Database }, subject: { deviceId: string; tenantId: string }, now: Date, days: number) {
    let issuer = issuers.get(this);
    if (!issuer) {
      issuer = this.db
        .query<{ certificate_pem: string; private_key_pkcs8: string }>('select certificate_pem, private_key_pkcs8 from certificate_authority')
        .then(([row]) => new NativeCertificateIssuer(new X509Certificate(row.certificate_pem).raw, Buffer.from(row.private_key_pkcs8, 'base64')));
      issuers.set(this, issuer);
    }
    return (await issuer).issue(subject, now, days);
  };
  return () => {
    proto.issue = original;
  };
}

/** The native-crypto prototype of CA.issue, against the service's own CA: valid, and how fast. */
async function nativeCertificateCheck(stack: BenchStack, tenantId: string): Promise<string> {
  const [row] = await stack.enrollment.runtime.db.query<{ certificate_pem: string; private_key_pkcs8: string }>(
    'select certificate_pem, private_key_pkcs8 from certificate_authority',
  );
  const ca = new X509Certificate(row.certificate_pem);
  const issuer = new NativeCertificateIssuer(ca.raw, Buffer.from(row.private_key_pkcs8, 'base64'));
  const t = performance.now();
  const issued = [];
  for (let i = 0; i < 200; i++) issued.push(await issuer.issue({ deviceId: randomUUID(), tenantId }, new Date(), 365));
  const ms = (performance.now() - t) / 200;
  const cert = new X509Certificate(issued[0].pem);
  const ok =
    cert.verify(ca.publicKey) &&
    cert.checkIssued(ca) &&
    cert.serialNumber.toUpperCase() === issued[0].serial &&
    Date.parse(cert.validTo) === Math.floor(Date.parse(issued[0].notAfter) / 1000) * 1000 &&
    cert.subject.includes('CN=') &&
    cert.keyUsage !== undefined;
  return `native prototype (bench/prototypes), sequential: ${ms.toFixed(2)} ms per certificate, verifies against the CA: ${ok}`;
}

/**
 * (f) Enrollments per second end to end through the gateway (token lookup, proxy, read-your-writes
 * checks with authority and licensing, prerequisites, MDM certificate, devices row + event + outbox,
 * audit) from 32 concurrent clients, against a raw pg BEGIN/INSERT/COMMIT loop at the same
 * concurrency. BENCH_ENROLL_PROFILE=1 adds the server time per hop and step, CPU use and a run
 * straight to the enrollment service; BENCH_ENROLL_TRY=native-ca measures the proposed native
 * certificate issuer (patched into this process only; the services' code is untouched).
 */
export async function enrollScenario(): Promise<BenchResult[]> {
  const clients = benchConfig.enrollClients;
  const profile = process.env.BENCH_ENROLL_PROFILE === '1';
  const tries = (process.env.BENCH_ENROLL_TRY ?? '').split(',').filter(Boolean);
  const unknownTry = tries.find((t) => t !== 'native-ca');
  if (unknownTry) throw new Error(`BENCH_ENROLL_TRY=${unknownTry}: expected native-ca`);
  const idleBusy = await machineBusy();
  if (idleBusy > 0.2) {
    process.stdout.write(`\n  warning: the machine is ${Math.round(idleBusy * 100)}% busy before the run (other processes): figures will be low\n`);
  }
  const raw = await rawInsertCommit(clients);
  const results = [
    result(SCENARIO, `raw pg BEGIN; INSERT 1 row; COMMIT, ${clients} conns (${raw.units} rows)`, raw.rate, 'rows/s'),
  ];

  const timers = profile
    ? timeMethods([
        { label: 'gateway Tokens', proto: Tokens.prototype, methods: ['resolve'] },
        { label: 'gateway AuditLog', proto: AuditLog.prototype, methods: ['record'] },
        { label: 'enrollment controller', proto: EnrollmentsController.prototype, methods: ['enroll'] },
        { label: 'enrollment ReadYourWrites', proto: ReadYourWrites.prototype, methods: ['catchUp'] },
        { label: 'enrollment Facts', proto: Facts.prototype, methods: ['tenant', 'user'] },
        { label: 'enrollment CA', proto: MdmCertificateAuthority.prototype, methods: ['issue'] },
        { label: 'EventStore', proto: EventStore.prototype, methods: ['append'] },
        { label: 'Database (all services)', proto: Database.prototype, methods: ['query', 'transaction'] },
      ])
    : undefined;
  const undoTries = tries.includes('native-ca') ? [useNativeCertificates()] : [];
  let t = performance.now();
  const stack = await startBenchStack();
  try {
    const stackSeconds = seconds(t);
    t = performance.now();
    const tenant = await seedTenant(stack, benchConfig.enrollUsers);
    // Enrollment has applied every license before the clock starts: the run measures enrollments, not the replay.
    await waitCaughtUp([stack.enrollment, stack.licensing]);
    process.stdout.write(
      `\n  stack up in ${stackSeconds.toFixed(1)} s; tenant with ${benchConfig.enrollUsers} EMS_E3 users in ${seconds(t).toFixed(1)} s\n`,
    );
    const runId = randomBytes(4).toString('hex');
    const warm = await enrollments(stack.gateway.url, tenant, clients, benchConfig.enrollWarmup, benchConfig.enrollMaxMs, 0, runId);
    if (warm.failures) throw new Error(`warm-up: ${warm.failures} of ${warm.done} enrollments failed, e.g. ${warm.failureSample.join('; ')}`);

    const services = [stack.gateway, stack.enrollment, stack.authority, stack.licensing];
    services.forEach((s) => s.runtime.metrics.httpDuration.reset());
    timers?.reset();
    const cpu = cpuSampler(decodeURIComponent(new URL(benchConfig.databaseUrl).pathname.slice(1)));
    const run = await enrollments(stack.gateway.url, tenant, clients, benchConfig.enrollCount, benchConfig.enrollMaxMs, warm.done, runId);
    const usage = cpu.stop();
    const label = `${clients} clients via gateway (${run.done} enrollments, ${Math.round(run.seconds)} s)${tries.length ? ` [tried: ${tries.join(', ')}]` : ''}`;
    results.push(
      result(SCENARIO, `enrollments, ${label}`, run.rate, 'enroll/s', {
        baseline: raw.rate,
        target: ENROLL_TARGET_PER_SECOND,
        targetOn: 'value',
      }),
      result(SCENARIO, 'enroll latency p50', run.p50, 'ms'),
      result(SCENARIO, 'enroll latency p99', run.p99, 'ms', { target: ENROLL_P99_TARGET_MS, atMost: true }),
      result(SCENARIO, 'non-201 answers', run.failures, 'answers', { target: 0, atMost: true }),
      // Per enrollment, hence steady when other work shares the machine (the rate is not).
      result(SCENARIO, 'CPU per enrollment: this node process (4 services + clients)', usage.nodeMs / run.done, 'ms'),
      result(SCENARIO, 'CPU per enrollment: postgres (backends + WAL writer)', usage.postgresMs / run.done, 'ms'),
    );
    if (usage.otherMs / (run.seconds * 1000) > 0.2) {
      process.stdout.write(`\n  warning: other processes used ${Math.round((usage.otherMs / (run.seconds * 1000)) * 100)}% of a core during the run\n`);
    }
    if (run.failures) process.stdout.write(`\n  non-201 sample: ${run.failureSample.join('\n  ')}\n`);
    if (run.done < benchConfig.enrollCount) {
      process.stdout.write(`\n  stopped at the ${benchConfig.enrollMaxMs / 1000} s cap after ${run.done} of ${benchConfig.enrollCount}\n`);
    }

    if (profile) {
      const hops = (await Promise.all(services.map(hopTimes))).flat();
      const steps = timers!.report();
      // What one MDM certificate costs on its own (device key pair, @peculiar/x509 build and sign).
      const ca = stack.enrollment.app.get(MdmCertificateAuthority);
      const issueStart = performance.now();
      for (let i = 0; i < 200; i++) await ca.issue({ deviceId: randomUUID(), tenantId: tenant.tenantId }, new Date(), 365);
      steps.push(`CA.issue alone, sequential: ${((performance.now() - issueStart) / 200).toFixed(2)} ms per certificate`);
      steps.push(await nativeCertificateCheck(stack, tenant.tenantId));
      process.stdout.write(
        `\n  server time per hop (measured run):\n    ${hops.join('\n    ')}\n  time per step:\n    ${steps.join('\n    ')}\n  CPU over the run: ${usage.text}\n`,
      );
      // The same enrollments straight to the enrollment service: what the gateway hop costs.
      const direct = await enrollments(
        stack.enrollment.url,
        tenant,
        clients,
        Math.min(2000, benchConfig.enrollCount),
        benchConfig.enrollMaxMs,
        warm.done + run.done,
        runId,
        { 'x-actor': 'bench', 'x-tenant-id': tenant.tenantId },
        undefined,
      );
      results.push(
        result(SCENARIO, `enrollments, ${clients} clients direct to enrollment (${direct.done})`, direct.rate, 'enroll/s'),
        result(SCENARIO, 'direct enroll latency p50', direct.p50, 'ms'),
        result(SCENARIO, 'direct enroll latency p99', direct.p99, 'ms'),
        result(SCENARIO, 'direct non-201 answers', direct.failures, 'answers'),
      );
    }
    return results;
  } finally {
    await stack.stop();
    timers?.restore();
    undoTries.forEach((undo) => undo());
  }
}
