// `npm run test:faults` (every case) or `npm run test:faults -- --short` (the CI subset), optionally
// `--case <words>[,<words>…]` and `--keep` (the services' logs stay even when every case passed):
// the whole system as `npm start` runs it (supervised processes), on a Postgres cluster and a Kafka
// broker of the suite's own, with faults injected while commands flow.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { isDeepStrictEqual } from 'node:util';
import { Kafka, quietKafka } from '@mdm/platform/kafka';
import { ApiClient } from '../../apps/e2e/src/support/api-client';
import {
  EventLog,
  expectedDetail,
  expectedListItem,
  expectedOverview,
  fold,
  readLog,
  readViews,
  timelineKeys,
  visibleOf,
} from '../../apps/e2e/src/support/model-fold';
import { ProcessStack, startProcessStack } from '../stack/processes';
import { stackServices } from '../stack/services';
import { privateInfra } from './infra';
import { CaseTenant, Outcome, Workload, call } from './workload';

/** Ports of the suite (its range: 4200–4299): its Postgres, its broker, then one per service. */
const PORT_BASE = Number(process.env.FAULTS_PORT_BASE ?? 4210);
const PORTS = { postgres: PORT_BASE, kafka: PORT_BASE + 1, kafkaController: PORT_BASE + 2 };
const SERVICE_PORT_BASE = PORT_BASE + 20;
/** The issue's recovery target. */
const RECOVERY_TARGET_S = 15;
const CHECK_IN_INTERVAL_MS = 8 * 3_600_000;

const short = process.argv.includes('--short');
const keep = process.argv.includes('--keep');
const only = process.argv.includes('--case') ? process.argv[process.argv.indexOf('--case') + 1] : undefined;

function say(line: string) {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Context {
  stack: ProcessStack;
  infra: ReturnType<typeof privateInfra>;
  tenant: CaseTenant;
  kafka: Kafka;
  /** Notes of the case for the table's last column. */
  notes: string[];
}

interface FaultCase {
  name: string;
  /** In the CI subset. */
  short?: boolean;
  /** Devices enrolled before the load starts. */
  seedDevices?: number;
  /** Connections refused or dropped by the gateway are expected (it is the one killed). */
  gatewayDown?: boolean;
  /** Injects the fault; resolves with the instant it ended (recovery counts from there). */
  inject(ctx: Context): Promise<number>;
}

const processOf = (ctx: Context, app: string) => ctx.stack.services.find((s) => s.app === app)!.supervisor;

function killService(app: string, before?: (ctx: Context) => Promise<void>): FaultCase['inject'] {
  return async (ctx) => {
    await before?.(ctx);
    processOf(ctx, app).child.kill('SIGKILL');
    return Date.now();
  };
}

const cases: FaultCase[] = [
  {
    name: 'kill -9 device-sync during a fan-out',
    short: true,
    seedDevices: 40,
    inject: killService('device-sync', async (ctx) => {
      const o = await ctx.tenant.setAuthority('intune');
      ctx.notes.push(`switch ${o.status}`);
    }),
  },
  {
    name: 'kill -9 projection during catch-up',
    inject: killService('projection', async (ctx) => {
      await Promise.all(Array.from({ length: 40 }, () => ctx.tenant.enroll()));
    }),
  },
  { name: 'kill -9 api-gateway', gatewayDown: true, inject: killService('api-gateway') },
  { name: 'kill -9 enrollment during enrollments', inject: killService('enrollment', () => sleep(500)) },
  { name: 'kill -9 authority', inject: killService('authority') },
  { name: 'kill -9 licensing', inject: killService('licensing') },
  {
    name: 'kill -9 the broker, restart it',
    short: true,
    inject: async (ctx) => {
      ctx.infra.kafka.kill();
      const downMs = short ? 5_000 : 15_000;
      ctx.notes.push(`down ${downMs / 1000} s`);
      await sleep(downMs);
      const restarting = Date.now();
      ctx.infra.kafka.start();
      ctx.notes.push(`broker start ${((Date.now() - restarting) / 1000).toFixed(1)} s`);
      return Date.now();
    },
  },
  {
    name: 'restart Postgres',
    inject: async (ctx) => {
      ctx.infra.postgres.restart();
      return Date.now();
    },
  },
  {
    name: 'malformed and unknown-version events on every consumed topic',
    short: true,
    inject: async (ctx) => {
      const topics = consumedTopics();
      const producer = ctx.kafka.producer();
      await producer.connect();
      const sample = (await readLogs()).authority.find((e) => e.tenantId === ctx.tenant.tenantId)!;
      try {
        for (const topic of topics) {
          await producer.send({
            topic,
            messages: [
              { key: `tenant-${ctx.tenant.tenantId}`, value: 'not json {' },
              { key: sample.streamId, value: JSON.stringify({ ...sample, eventId: randomUUID(), schemaVersion: 99 }) },
            ],
          });
        }
      } finally {
        await producer.disconnect();
      }
      ctx.notes.push(`${topics.length * 2} sent`);
      return Date.now();
    },
  },
  {
    name: 're-deliver 200 consumed events',
    // Enough history of the tenant to take 200 events from.
    seedDevices: 120,
    inject: async (ctx) => {
      const messages = await tenantMessages(ctx, 200);
      const producer = ctx.kafka.producer();
      await producer.connect();
      try {
        for (const [topic, batch] of messages) await producer.send({ topic, messages: batch });
      } finally {
        await producer.disconnect();
      }
      ctx.notes.push(`${[...messages.values()].reduce((n, b) => n + b.length, 0)} re-sent`);
      return Date.now();
    },
  },
  {
    name: 'slow consumer (projection stopped 8 s)',
    inject: async (ctx) => {
      const child = processOf(ctx, 'projection').child;
      child.kill('SIGSTOP');
      await sleep(8_000);
      child.kill('SIGCONT');
      return Date.now();
    },
  },
  {
    name: 'flood of bogus device credentials',
    inject: async (ctx) => {
      const flood: Outcome[] = [];
      const started = Date.now();
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          for (let i = 0; i < 20; i++) {
            flood.push(
              await call('bogusCheckIn', `${ctx.tenant.gateway}/device/v1/check-in`, {
                method: 'POST',
                // The guesser is a client of its own: the workload's devices (and the probe's new one)
                // call from 127.0.0.1, which the gateway's limit on refused calls leaves alone.
                localAddress: '127.0.0.2',
                headers: { authorization: `Device bogus-${randomBytes(16).toString('hex')}` },
                body: { state: { osVersion: '10.0', encrypted: true, jailbroken: false, passcodeSet: true } },
              }),
            );
          }
        }),
      );
      const statuses = countBy(flood.map((o) => String(o.status)));
      const mean = flood.reduce((s, o) => s + o.ms, 0) / flood.length;
      ctx.notes.push(`${flood.length} bogus: ${statuses} in ${((Date.now() - started) / 1000).toFixed(1)} s, mean ${Math.round(mean)} ms`);
      // Refused either way: 401, or 429 once the gateway's limit on repeated refusals from this address is reached.
      for (const o of flood) if ((o.status !== 401 && o.status !== 429) || o.bad) ctx.tenant.outcomes.push(o);
      return Date.now();
    },
  },
];

function countBy(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k}×${n}`).join(' ');
}

/** Messages in every dead-letter topic. */
async function deadLettered(kafka: Kafka): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith('mdm.dlq.'));
    let n = 0;
    for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) n += Number(p.high) - Number(p.low);
    return n;
  } finally {
    await admin.disconnect();
  }
}

function consumedTopics(): string[] {
  return [...new Set(stackServices.flatMap((s) => s.definition.consumes?.topics.map((t) => t.topic) ?? []))];
}

/** Up to `limit` messages already on the event topics that concern the case's tenant, by topic. */
async function tenantMessages(ctx: Context, limit: number) {
  const consumer = ctx.kafka.consumer({ groupId: `faults-redeliver-${randomBytes(4).toString('hex')}` });
  const found = new Map<string, { key: Buffer | null; value: Buffer | null; headers?: Record<string, unknown> }[]>();
  let count = 0;
  await consumer.connect();
  await consumer.subscribe({ topics: consumedTopics(), fromBeginning: true });
  const admin = ctx.kafka.admin();
  await admin.connect();
  const ends = new Map<string, number>();
  for (const topic of consumedTopics()) for (const p of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}:${p.partition}`, Number(p.high));
  await admin.disconnect();
  const seen = new Map<string, number>();
  await new Promise<void>((resolve) => {
    const done = () => [...ends].every(([k, end]) => end === 0 || (seen.get(k) ?? 0) >= end) || count >= limit;
    const timer = setTimeout(resolve, 30_000);
    void consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        seen.set(`${topic}:${partition}`, Number(message.offset) + 1);
        if (count < limit && message.value?.toString().includes(ctx.tenant.tenantId)) {
          const batch = found.get(topic) ?? [];
          batch.push({ key: message.key, value: message.value, headers: message.headers });
          found.set(topic, batch);
          count++;
        }
        if (done()) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return found as Map<string, { key: Buffer | null; value: Buffer | null; headers?: Record<string, Buffer> }[]>;
}

// ---------------------------------------------------------------------------------------------
// The stack, its event log, the oracle.

let databaseUrl = '';
let operatorToken = '';
let gatewayUrl = '';

async function schemaLog(schema: string) {
  const client = new Client({ connectionString: databaseUrl, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    return await readLog({ query: async (text, params) => (await client.query(text, params as unknown[])).rows });
  } finally {
    await client.end();
  }
}

async function readLogs(): Promise<EventLog> {
  return {
    authority: await schemaLog('authority'),
    licensing: await schemaLog('licensing'),
    enrollment: await schemaLog('enrollment'),
    deviceSync: await schemaLog('device_sync'),
  };
}

async function newTenant(name: string): Promise<CaseTenant> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const o = await call('tenant', `${gatewayUrl}/api/v1/tenants`, { method: 'POST', headers: { authorization: `Bearer ${operatorToken}` }, body: { name } });
    if (o.status === 201 && o.body) {
      const tenant = new CaseTenant(gatewayUrl, o.body.tenantId as string, o.body.adminToken as string);
      const set = await tenant.setAuthority('office365');
      if (set.status === 200) return tenant;
    }
    if (Date.now() > deadline) throw new Error(`could not create a tenant: ${o.status} ${o.code ?? o.bad ?? ''}`);
    await sleep(500);
  }
}

/**
 * The system works again: every service healthy (its consumer joined), the authority answers
 * through the gateway, a new device enrolls, checks in and shows in the views, and a new user gets
 * a license (no DEPENDENCY_LAGGING).
 */
async function probe(tenant: CaseTenant): Promise<string | undefined> {
  for (const { app, url } of stackRef.services) {
    const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(3_000) }).then(
      async (r) => (r.ok ? undefined : ((await r.json()) as { reasons?: string[] }).reasons?.join(', ') ?? String(r.status)),
      (err: Error) => err.message,
    );
    if (health) return `${app} health: ${health}`;
  }
  const answer = (o: Outcome | undefined) => `${o?.status} ${o?.code ?? o?.bad ?? ''}`;
  const authority = await call('authority', tenant.path('/authority'), { method: 'GET', headers: { authorization: `Bearer ${tenant.adminToken}` } });
  if (authority.status !== 200) return `authority ${answer(authority)}`;
  const enrolled = await tenant.enroll();
  if (enrolled.status !== 201) return `enroll ${answer(enrolled)}`;
  const device = tenant.devices.find((d) => d.deviceId === enrolled.deviceId)!;
  const checkIn = await tenant.checkIn(device);
  if (checkIn?.status !== 200) return `check-in ${answer(checkIn)}`;
  const licensed = await tenant.licensedUser();
  if (licensed.status !== 200) return `license ${answer(licensed)}`;
  const admin = new ApiClient(gatewayUrl, tenant.adminToken);
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const seen = await admin.get(`/api/v1/tenants/${tenant.tenantId}/devices/${device.deviceId}`).catch(() => ({ status: 0, body: undefined }));
    if (seen.status === 200 && seen.body?.lastCheckInAt) return undefined;
    await sleep(100);
  }
  return 'the probe device is not in the views within 5 s';
}

let stackRef: ProcessStack;

/**
 * Seconds from `since` until the probe passes (null: not within the deadline), and where the time
 * went: each thing the probe waited for, from the second it was first seen.
 */
async function recover(tenant: CaseTenant, since: number, deadlineMs = 120_000): Promise<{ seconds: number | null; waited: string[] }> {
  const waited: string[] = [];
  let last: string | undefined;
  while (Date.now() - since < deadlineMs) {
    const failure = await probe(tenant).catch((err: Error) => err.message);
    if (!failure) return { seconds: (Date.now() - since) / 1000, waited };
    if (failure !== last) waited.push(`${((Date.now() - since) / 1000).toFixed(1)} s ${failure}`);
    last = failure;
    await sleep(250);
  }
  return { seconds: null, waited };
}

interface Verdict {
  reflected: number;
  duplicates: number;
  viewsEqualFold: boolean;
  mismatch?: string;
}

/** Every 2xx command is reflected, nothing twice, and the views equal the independent fold of the log. */
async function verify(tenant: CaseTenant): Promise<Verdict> {
  const log = await readLogs();
  const model = fold(log, CHECK_IN_INTERVAL_MS);
  const admin = new ApiClient(gatewayUrl, tenant.adminToken);
  const t = { tenantId: tenant.tenantId, admin, path: (s = '') => `/api/v1/tenants/${tenant.tenantId}${s}` };
  const ids = [...new Set(tenant.devices.map((d) => d.deviceId))].sort();
  const views = await readViews(t, ids, [], 50);

  const ok = tenant.outcomes.filter((o) => o.status >= 200 && o.status < 300);
  const listed = new Set((views.list as { deviceId: string }[]).map((d) => d.deviceId));
  const checkInsOk = new Map<string, number>();
  for (const o of ok) if (o.kind === 'checkIn') checkInsOk.set(o.deviceId!, (checkInsOk.get(o.deviceId!) ?? 0) + 1);
  const timelineCount = (id: string, type: string) => {
    const d = views.details[id] as { timeline?: { type: string }[] } | 404 | undefined;
    return d && d !== 404 ? (d.timeline ?? []).filter((e) => e.type === type).length : 0;
  };
  // Users and licenses are licensing's own read (the views show users only through their switches).
  const users = new Map<string, string[]>();
  for (const o of ok.filter((x) => x.kind === 'user' || x.kind === 'license')) {
    if (users.has(o.userId!)) continue;
    const res = await admin.get(`/api/v1/tenants/${tenant.tenantId}/users/${o.userId}`);
    if (res.status === 200) users.set(o.userId!, (res.body?.licenses as string[]) ?? []);
  }
  const latestAuthority = [...ok].reverse().find((x) => x.kind === 'authority')?.authority;
  let reflected = 0;
  const seenCheckIns = new Map<string, number>();
  for (const o of ok) {
    switch (o.kind) {
      case 'enroll':
        if (listed.has(o.deviceId!)) reflected++;
        break;
      case 'checkIn': {
        const n = (seenCheckIns.get(o.deviceId!) ?? 0) + 1;
        seenCheckIns.set(o.deviceId!, n);
        if (timelineCount(o.deviceId!, 'DeviceCheckedIn') >= n) reflected++;
        break;
      }
      case 'license':
        if (users.get(o.userId!)?.includes(o.sku!)) reflected++;
        break;
      case 'user':
        if (users.has(o.userId!)) reflected++;
        break;
      case 'authority':
        // Switches are reflected when the newest accepted one is the tenant's authority in the views.
        if (views.overview.authority === latestAuthority) reflected++;
        break;
      default:
        break;
    }
  }

  // Twice in a view: a device listed twice, or more check-ins in its timeline than in device-sync's log.
  let duplicates = (views.list as unknown[]).length - listed.size;
  for (const id of ids) {
    const logged = log.deviceSync.filter((e) => e.type === 'DeviceCheckedIn' && e.data.deviceId === id).length;
    duplicates += Math.max(0, timelineCount(id, 'DeviceCheckedIn') - logged);
  }
  const eventIds = [...log.authority, ...log.licensing, ...log.enrollment, ...log.deviceSync].map((e) => e.eventId);
  duplicates += eventIds.length - new Set(eventIds).size;

  const { lagMs: _lag, ...overview } = views.overview;
  const expectedList = visibleOf(model, tenant.tenantId).map(expectedListItem);
  let mismatch: string | undefined;
  if (model.inconsistencies.length) mismatch = `log: ${model.inconsistencies[0]}`;
  else if (!isDeepStrictEqual(overview, expectedOverview(model, tenant.tenantId, CHECK_IN_INTERVAL_MS))) mismatch = 'overview';
  else if (!isDeepStrictEqual(views.list, expectedList)) mismatch = 'device list';
  else {
    for (const id of ids) {
      const m = model.devices.get(id);
      const v = views.details[id] as Record<string, unknown> | 404;
      const expected = m && m.status === 'active' ? expectedDetail(m, CHECK_IN_INTERVAL_MS) : 404;
      const actual = v === 404 ? 404 : { ...v, timeline: timelineKeys(v.timeline as { type: string; occurredAt: string }[]) };
      if (!isDeepStrictEqual(actual, expected)) {
        mismatch = `device ${id}`;
        break;
      }
    }
  }
  return { reflected, duplicates, viewsEqualFold: !mismatch, ...(mismatch && { mismatch }) };
}

interface Row {
  name: string;
  commands: number;
  ok: number;
  reflected: number;
  duplicates: number;
  recovery: number | null;
  /** Seconds from the fault until a verdict found every 2xx reflected and the views equal to the fold (an upper bound: it includes reading them). */
  complete: number | null;
  /** Seconds from the fault to the last DEPENDENCY_LAGGING answer after it (null: none after it). */
  laggingUntil: number | null;
  clean503: number;
  lagging: number;
  bad: number;
  dropped: number;
  viewsEqualFold: boolean;
  pass: boolean;
  notes: string;
}

async function runCase(c: FaultCase, stack: ProcessStack, infra: ReturnType<typeof privateInfra>, kafka: Kafka): Promise<Row> {
  say(`case: ${c.name}`);
  const tenant = await newTenant(c.name);
  const ctx: Context = { stack, infra, tenant, kafka, notes: [] };
  await Promise.all(Array.from({ length: c.seedDevices ?? 10 }, () => tenant.enroll()));
  const workload = new Workload(tenant);
  workload.start();
  await sleep(2_000);
  const dlqBefore = await deadLettered(kafka);
  const ended = await c.inject(ctx);
  const { seconds: recovery, waited } = await recover(tenant, ended);
  say(`  recovered: ${recovery === null ? 'no' : `${recovery.toFixed(1)} s`}`);
  for (const line of waited) say(`    from ${line}`);
  await sleep(1_000);
  await workload.stop();

  // The oracle, once the views had the time to catch up (bounded).
  const ok = tenant.outcomes.filter((o) => o.status >= 200 && o.status < 300).length;
  const deadline = Date.now() + 60_000;
  let verdict = await verify(tenant);
  let complete: number | null = null;
  for (;;) {
    if (verdict.reflected === ok && verdict.viewsEqualFold) {
      complete = (Date.now() - ended) / 1000;
      break;
    }
    if (Date.now() > deadline) break;
    await sleep(250);
    verdict = await verify(tenant);
  }
  const o = tenant.outcomes;
  const lastLagging = Math.max(...o.filter((x) => x.code === 'DEPENDENCY_LAGGING').map((x) => x.at));
  const laggingUntil = lastLagging > ended ? (lastLagging - ended) / 1000 : null;
  const dlq = (await deadLettered(kafka)) - dlqBefore;
  if (dlq) ctx.notes.push(`${dlq} dead-lettered`);
  const refusals = o.filter((x) => x.status >= 400 || x.status === 0);
  if (refusals.length) ctx.notes.push(countBy(refusals.map((x) => `${x.status}${x.code ? ` ${x.code}` : ''}`)));
  const bad = o.filter((x) => x.bad);
  for (const b of bad.slice(0, 5)) say(`  bad answer: ${b.kind} ${b.bad}`);
  if (verdict.mismatch) say(`  views differ from the fold: ${verdict.mismatch}`);
  const dropped = o.filter((x) => x.dropped).length;
  const row: Row = {
    name: c.name,
    commands: o.length,
    ok,
    reflected: verdict.reflected,
    duplicates: verdict.duplicates,
    recovery,
    complete,
    laggingUntil,
    clean503: o.filter((x) => x.status === 503 && !x.bad).length,
    lagging: o.filter((x) => x.code === 'DEPENDENCY_LAGGING').length,
    bad: bad.length,
    dropped,
    viewsEqualFold: verdict.viewsEqualFold,
    pass: false,
    notes: ctx.notes.join('; '),
  };
  row.pass =
    row.bad === 0 &&
    (c.gatewayDown || dropped === 0) &&
    row.reflected === row.ok &&
    row.duplicates === 0 &&
    row.viewsEqualFold &&
    recovery !== null &&
    recovery <= RECOVERY_TARGET_S &&
    complete !== null &&
    complete <= RECOVERY_TARGET_S &&
    (laggingUntil ?? 0) <= RECOVERY_TARGET_S;
  return row;
}

/** A case that could not run to its verdict fails alone; the others still run. */
function failedRow(c: FaultCase, err: Error): Row {
  say(`  case failed: ${err.stack ?? err.message}`);
  return {
    name: c.name,
    commands: 0,
    ok: 0,
    reflected: 0,
    duplicates: 0,
    recovery: null,
    complete: null,
    laggingUntil: null,
    clean503: 0,
    lagging: 0,
    bad: 0,
    dropped: 0,
    viewsEqualFold: false,
    pass: false,
    notes: `error: ${err.message}`,
  };
}

function printTable(rows: Row[]) {
  const header = ['case', 'commands', '2xx', 'reflected', 'duplicates', 'recovery s', 'views complete s', '503 {code}', 'of which LAGGING', 'LAGGING until s', 'bad', 'dropped', 'views = fold', 'result', 'notes'];
  const seconds = (v: number | null, none: string) => (v === null ? none : v.toFixed(1));
  const lines = rows.map((r) => [
    r.name,
    String(r.commands),
    String(r.ok),
    String(r.reflected),
    String(r.duplicates),
    seconds(r.recovery, 'none'),
    seconds(r.complete, 'none'),
    String(r.clean503),
    String(r.lagging),
    seconds(r.laggingUntil, '-'),
    String(r.bad),
    String(r.dropped),
    r.viewsEqualFold ? 'yes' : 'NO',
    r.pass ? 'pass' : 'FAIL',
    r.notes,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  process.stdout.write(`\n${fmt(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${lines.map(fmt).join('\n')}\n`);
}

async function main() {
  const infra = privateInfra(PORTS);
  let stack: ProcessStack | undefined;
  let kafka: Kafka | undefined;
  let failed = true;
  const stopAll = async () => {
    await stack?.stop().catch(() => undefined);
    infra.stop(failed || keep);
    if (failed || keep) say(`logs kept in ${infra.base}/logs`);
  };
  process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    say(`private Postgres on ${PORTS.postgres}, broker on ${PORTS.kafka}, services from ${SERVICE_PORT_BASE} (${infra.base})`);
    infra.postgres.init();
    infra.postgres.start();
    infra.postgres.createDatabase();
    infra.kafka.start();
    databaseUrl = infra.postgres.url;
    operatorToken = `mdm_faults_${randomBytes(18).toString('base64url')}`;
    const logDir = path.join(infra.base, 'logs');
    mkdirSync(logDir, { recursive: true });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'development',
      DATABASE_URL: databaseUrl,
      KAFKA_BROKERS: infra.kafka.brokers,
      MDM_OPERATOR_TOKEN: operatorToken,
      // One key for the whole stack: the gateway signs each relayed call's context, the services check it.
      MDM_GATEWAY_SIGNING_KEY: randomBytes(32).toString('base64url'),
      LOG_LEVEL: 'info',
    };
    for (const key of ['KAFKA_TOPIC_NAMESPACE', 'DB_SCHEMA', 'KAFKA_CONSUMER_GROUP', 'MDM_TEST_CLOCK']) delete env[key];
    stack = await startProcessStack({
      env,
      logDir,
      serviceEnv: ({ definition }) => ({ [definition.portVariable]: String(SERVICE_PORT_BASE + stackServices.findIndex((s) => s.definition === definition)) }),
      say: (line) => say(`  supervisor: ${line}`),
    });
    stackRef = stack;
    gatewayUrl = stack.url;
    kafka = quietKafka({ clientId: 'faults', brokers: [infra.kafka.brokers] });
    say(`stack up: ${gatewayUrl}; logs in ${logDir}`);

    const chosen = cases.filter((c) => (only ? only.split(',').some((words) => c.name.includes(words)) : !short || c.short));
    const rows: Row[] = [];
    for (const c of chosen) {
      const row = await runCase(c, stack, infra, kafka).catch((err: Error) => failedRow(c, err));
      rows.push(row);
      say(
        `  ${row.pass ? 'pass' : 'FAIL'}: ${row.ok}/${row.commands} 2xx, ${row.reflected} reflected, ${row.duplicates} duplicates, ${row.bad} bad; views complete ${row.complete === null ? 'never' : `${row.complete.toFixed(1)} s`} after the fault`,
      );
    }
    printTable(rows);
    failed = rows.some((r) => !r.pass);
    process.stdout.write(`\nfault suite: ${rows.filter((r) => r.pass).length} of ${rows.length} cases passed (recovery target ${RECOVERY_TARGET_S} s)\n`);
  } catch (err) {
    say(`fault suite aborted: ${(err as Error).stack ?? err}`);
  } finally {
    await stopAll();
  }
  process.exit(failed ? 1 : 0);
}

void main();
