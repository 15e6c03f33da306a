import { ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { deadLetterTopic } from '@mdm/contracts/core';
import { RebuildStatus } from '@mdm/contracts/projection';
import { RunningService, startService } from '@mdm/platform/http';
import { Kafka, createReliableProducer, ensureTopics } from '@mdm/platform/kafka';
import { IsolatedTopics, TEST_SIGNING_KEY, asGateway, eventually, groupCaughtUp, uniqueName } from '@mdm/platform/testing';
import { projectionService } from '../../apps/projection/src/projection.definition';
import { ProjectionModule } from '../../apps/projection/src/projection.module';
import { benchConfig as cfg, logger } from '../config';
import { DeviceFleet, Mix, topicMessages } from '../device-fleet';
import { benchKafka, seconds } from '../infra';
import { BenchResult, result } from '../report';
import { RunCommand, RunReport, SetupCommand } from './paced-producer';

const ROOT = path.resolve(__dirname, '../..');
const LAG_P99_TARGET_MS = 1000;
const REBUILD_TARGET = 10_000;

interface Projection {
  service: RunningService;
  topicOf: Record<string, string>;
  topics: string[];
  group: string;
}

/**
 * The projection service alone in this process, as its integration spec starts it: its own copies
 * of the event topics (no other run's history), schema and consumer group, a normal pool. Closed,
 * and its topics, groups and schema removed, afterwards.
 */
async function withProjection<T>(
  label: string,
  fn: (p: Projection) => Promise<T>,
  before?: (kafka: Kafka, topicOf: Record<string, string>) => Promise<void>,
): Promise<T> {
  const isolated = new IsolatedTopics(uniqueName(label).slice(2));
  const definition = isolated.definition(projectionService);
  const schema = uniqueName(`bench_${label}`);
  const group = uniqueName(`bench_${label}`);
  const topicOf = Object.fromEntries(definition.events.map((e) => [e.type, e.topic!]));
  const topics = definition.consumes!.topics.map((t) => t.topic);
  const kafka = await benchKafka(`bench-${label}`);
  const groups = [group, `${group}.g2`, `${group}.g3`];
  let service: RunningService | undefined;
  try {
    if (before) {
      await ensureTopics(kafka, definition.consumes!.topics);
      await before(kafka, topicOf);
    }
    service = await startService(definition, () => ProjectionModule, {
    NODE_ENV: 'test',
    DATABASE_URL: cfg.databaseUrl,
    KAFKA_BROKERS: cfg.brokers.join(','),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    DB_POOL_SIZE: String(cfg.projectionPoolSize),
    PROJECTION_PORT: '0',
    MDM_GATEWAY_SIGNING_KEY: TEST_SIGNING_KEY,
    DB_SCHEMA: schema,
    KAFKA_CONSUMER_GROUP: group,
    });
    return await fn({ service, topicOf, topics, group });
  } finally {
    await service?.close().catch((err) => logger.warn({ err }, 'closing the projection failed'));
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.deleteGroups(groups).catch(() => undefined);
      const dlqs = groups.map((g) => deadLetterTopic(g).topic);
      const existing = new Set(await admin.listTopics());
      const doomed = [...topics, ...dlqs].filter((t) => existing.has(t));
      await admin.deleteTopics({ topics: doomed }).catch((err) => logger.warn({ err }, 'delete topics failed'));
    } finally {
      await admin.disconnect();
    }
    const client = new Client({ connectionString: cfg.databaseUrl });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`).catch((err) => logger.warn({ err }, 'drop schema failed'));
    await client.end();
  }
}

async function caughtUp(p: Projection, group: string, timeoutMs: number): Promise<void> {
  await eventually(
    async () => {
      if (!(await groupCaughtUp(p.service.runtime.kafka, group, p.topics))) throw new Error(`${group} did not catch up in ${timeoutMs} ms`);
    },
    timeoutMs,
    100,
  );
}

async function liveTimeline(p: Projection): Promise<string> {
  const [{ live_generation }] = await p.service.runtime.db.query<{ live_generation: number }>('select live_generation from projection_state');
  return `g${live_generation}_timeline`;
}

/** A child process running paced-producer.ts, with a promise per reply. */
function producerProcess(): { child: ChildProcess; next: <R>(done: string) => Promise<R> } {
  const child = fork(path.join(__dirname, 'paced-producer.ts'), [], {
    cwd: ROOT,
    execArgv: ['-r', path.join(ROOT, 'tools/register.js')],
    env: { ...process.env },
  });
  const next = <R>(done: string) =>
    new Promise<R>((resolve, reject) => {
      const onMessage = (m: { done?: string; error?: string }) => {
        if (m.error) reject(new Error(`producer: ${m.error}`));
        else if (m.done === done) resolve(m as R);
        else return;
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      const onExit = (code: number) => reject(new Error(`producer exited with ${code}`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  return { child, next };
}

/**
 * (j) Projection lag under a steady stream: tenants and a few thousand enrolled devices first (not
 * measured), then device-sync events (check-ins at schemaVersion 2, remote actions, renewals) at
 * the configured rate for the configured time, produced from another process in small paced
 * slices, each stamped recordedAt = now. Every device event writes one timeline row whose
 * applied_at is the database clock when it was applied: lag = applied_at - recorded_at.
 */
export async function projectionLagScenario(): Promise<BenchResult[]> {
  return withProjection('lag', async (p) => {
    const { child, next } = producerProcess();
    try {
      const setup: SetupCommand = { cmd: 'setup', brokers: cfg.brokers, topicOf: p.topicOf, tenants: cfg.lagTenants, devices: cfg.lagDevices };
      const enrolled = next<{ events: number }>('setup');
      child.send(setup);
      const { events: setupEvents } = await enrolled;
      await caughtUp(p, p.group, 120_000);

      const measuredFrom = new Date();
      const ran = next<RunReport>('run');
      const run: RunCommand = { cmd: 'run', rate: cfg.lagRate, durationMs: cfg.lagDurationMs, sliceMs: cfg.lagSliceMs };
      child.send(run);
      const report = await ran;
      const drainStart = performance.now();
      await caughtUp(p, p.group, 300_000);
      const drainSeconds = seconds(drainStart);

      const timeline = await liveTimeline(p);
      const [lag] = await p.service.runtime.db.query<{ n: number; p50: number; p99: number; max: number }>(
        `select count(*)::int n,
                percentile_cont(0.5) within group (order by ms) p50,
                percentile_cont(0.99) within group (order by ms) p99,
                max(ms) max
           from (select extract(epoch from applied_at - recorded_at) * 1000 ms from ${timeline}
                  where recorded_at >= $1 and type <> 'DeviceEnrolled') x`,
        [measuredFrom],
      );
      if (lag.n !== report.sent) throw new Error(`${report.sent} events produced but ${lag.n} timeline rows written`);
      const scenario = '(j) projection lag';
      const what = `${cfg.lagDevices} devices / ${cfg.lagTenants} tenants (${setupEvents} setup events)`;
      return [
        result(scenario, `production rate achieved (target rate ${cfg.lagRate}/s, ${report.sends} sends, max backlog ${report.maxBacklog}, slowest send ${Math.round(report.maxSendMs)} ms)`, report.sent / report.seconds, 'events/s'),
        result(scenario, `lag p50, ${report.sent} events, ${what}`, lag.p50, 'ms'),
        result(scenario, 'lag p99 (applied_at - recorded_at)', lag.p99, 'ms', { target: LAG_P99_TARGET_MS, atMost: true }),
        result(scenario, 'lag max', lag.max, 'ms'),
        result(scenario, 'drain after the last send (until offsets committed)', drainSeconds * 1000, 'ms'),
      ];
    } finally {
      child.send({ cmd: 'exit' });
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    }
  });
}

/** Events of the rebuild history: mostly check-ins, a few remote actions. */
const REBUILD_MIX: Mix = { remoteActionQueued: 0.03, remoteActionStatusChanged: 0.03, certificateRenewed: 0.005 };

/**
 * (k) Rebuild: the configured number of events on the topics (tenants, every device enrolled, then
 * device-sync events round after round), produced fast in big batches before the service starts;
 * the live generation catching up from nothing is timed (informational), then POST rebuild is
 * timed until the status says switched: eventsApplied / (finishedAt - startedAt).
 */
export async function projectionRebuildScenario(): Promise<BenchResult[]> {
  const scenario = '(k) projection rebuild';
  let total = 0;
  let produceSeconds = 0;
  let serviceStart = 0;
  const produce = async (kafka: Kafka, topicOf: Record<string, string>) => {
    const t = performance.now();
    total = await produceHistory(kafka, topicOf, cfg.rebuildEvents);
    produceSeconds = seconds(t);
    serviceStart = performance.now();
  };
  return withProjection(
    'rebuild',
    async (p) => {
      // The live generation (a fresh group) reads the whole history from the service's start (informational).
      await caughtUp(p, p.group, 1_800_000);
      const liveSeconds = seconds(serviceStart);

      const url = new URL('/api/v1/system/projection/rebuild', p.service.url);
      // The operator's call, as the gateway relays it.
      const post = await fetch(url, { method: 'POST', headers: asGateway('POST', url, { actor: 'operator' }) });
      if (post.status !== 202) throw new Error(`rebuild: ${post.status} ${await post.text()}`);
      const wallStart = performance.now();
      let rebuild: RebuildStatus['rebuild'] = null;
      for (;;) {
        await new Promise((r) => setTimeout(r, 250));
        rebuild = ((await (await fetch(url, { headers: asGateway('GET', url, { actor: 'operator' }) })).json()) as RebuildStatus).rebuild;
        if (rebuild?.status === 'failed') throw new Error(`rebuild failed: ${rebuild.error}`);
        if (rebuild?.status === 'switched') break;
        if (seconds(wallStart) > cfg.rebuildMaxMs / 1000) throw new Error(`rebuild still ${rebuild?.status} after ${cfg.rebuildMaxMs} ms`);
      }
      const wall = seconds(wallStart);
      const rebuildSeconds = (Date.parse(rebuild.finishedAt!) - Date.parse(rebuild.startedAt)) / 1000;
      const what = `${cfg.rebuildDevices} devices / ${cfg.rebuildTenants} tenants`;
      return [
        result(scenario, `history produced before the service starts (${total} events, ${what}, ${produceSeconds.toFixed(1)} s)`, total / produceSeconds, 'events/s'),
        result(scenario, `live generation catching up from nothing (${liveSeconds.toFixed(1)} s from service start, informational)`, total / liveSeconds, 'events/s'),
        result(
          scenario,
          `rebuild: eventsApplied / (finishedAt - startedAt), ${rebuild.eventsApplied} events in ${rebuildSeconds.toFixed(1)} s (POST to switched seen: ${wall.toFixed(1)} s)`,
          rebuild.eventsApplied / rebuildSeconds,
          'events/s',
          { target: REBUILD_TARGET },
        ),
      ];
    },
    produce,
  );
}

/**
 * Tenants, every device's enrollment, then device-sync events round-robin over the devices until
 * `total`, in sendBatch chunks (each device's events stay in order: one sender, sequential sends).
 */
async function produceHistory(kafka: Kafka, topicOf: Record<string, string>, total: number): Promise<number> {
  const fleet = new DeviceFleet(topicOf, cfg.rebuildTenants, cfg.rebuildDevices);
  const producer = createReliableProducer(kafka);
  await producer.connect();
  const chunk = cfg.rebuildChunk;
  try {
    let sent = 0;
    const send = async (events: ReturnType<DeviceFleet['next']>[]) => {
      await producer.sendBatch({ acks: -1, topicMessages: topicMessages(events.map((e) => fleet.message(e))) });
      sent += events.length;
    };
    await send(fleet.tenantEvents());
    for (let i = 0; i < fleet.devices.length && sent < total; i += chunk) await send(fleet.enrollments(i, Math.min(fleet.devices.length, i + chunk, i + total - sent)));
    while (sent < total) {
      const now = new Date();
      await send(Array.from({ length: Math.min(chunk, total - sent) }, () => fleet.next(now, REBUILD_MIX)));
    }
    return sent;
  } finally {
    await producer.disconnect();
  }
}
