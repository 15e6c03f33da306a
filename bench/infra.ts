import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { TopicSpec } from '@mdm/contracts/core';
import { Database, MigrationClass, ensureDatabase, sqlMigration } from '@mdm/platform/database';
import { EventStoreSchema1764200000000 } from '@mdm/platform/event-store';
import { InboxSchema1764200000001 } from '@mdm/platform/inbox';
import { Kafka, createKafka, ensureTopics, kafkaReachable } from '@mdm/platform/kafka';
import { ServiceRuntime } from '@mdm/platform/http';
import { eventually, groupCaughtUp, uniqueName } from '@mdm/platform/testing';
import { TestStack, startStack } from '../apps/e2e/src/support/stack';
import { benchConfig, kafkaLogger, logger } from './config';

const ROOT = path.resolve(__dirname, '..');

export { ensureDatabase };

/**
 * The whole system in this process (the e2e stack: isolated topics, consumer groups and schemas,
 * removed by stop()) on the bench database, quiet.
 */
export async function benchStack(): Promise<TestStack> {
  const env = { DATABASE_URL: benchConfig.databaseUrl, KAFKA_BROKERS: benchConfig.brokers.join(','), LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
  Object.assign(process.env, env); // testEnv reads them too
  return startStack({ env });
}

/** Waits until the services' consumer groups have committed everything on their topics. */
export async function caughtUp(services: { runtime: ServiceRuntime }[], timeoutMs = 60_000): Promise<void> {
  for (const { runtime } of services) {
    const topics = runtime.definition.consumes!.topics.map((t) => t.topic);
    await eventually(async () => {
      if (!(await groupCaughtUp(runtime.kafka, runtime.consumerGroup!, topics))) throw new Error(`${runtime.definition.name} is catching up`);
    }, timeoutMs, 200);
  }
}

/** Connections Postgres can still open, keeping `spare` for the stack, capped at `want`. */
export async function freeConnections(want: number, spare = 0): Promise<number> {
  const client = new Client({ connectionString: benchConfig.databaseUrl });
  await client.connect();
  try {
    const [{ max, used }] = (
      await client.query<{ max: number; used: number }>(
        `select current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int as max,
                (select count(*)::int from pg_stat_activity) as used`,
      )
    ).rows;
    return Math.max(1, Math.min(want, max - used - spare));
  } finally {
    await client.end();
  }
}

/** A plain table shaped like a devices table, without indexes beyond the key. */
const RawDevicesTable = sqlMigration(
  'BenchRawDevices1764300000001',
  [
    `create table raw_devices (
       device_id       uuid primary key,
       tenant_id       uuid not null,
       serial_number   text not null,
       platform        text not null,
       status          text not null,
       certificate_not_after timestamptz not null,
       credential_hash text not null,
       enrolled_at     timestamptz not null)`,
  ],
  ['drop table raw_devices'],
);

/**
 * The Postgres ceiling for one small write transaction per request at a given concurrency: each
 * connection runs BEGIN; INSERT one device-like row; COMMIT, in a loop (the baseline of f and i).
 */
export async function rawInsertCommit(connections: number): Promise<{ rate: number; units: number; connections: number }> {
  return withSchema(
    'commit_pg',
    async (db) => {
      const clients = await connectClients(db, connections);
      try {
        const tenantId = randomUUID();
        const notAfter = new Date(Date.now() + 365 * 86_400_000);
        let seq = 0;
        const run = await timeBoxed(connections, async (w) => {
          const c = clients[w];
          await c.query('begin');
          await c.query(
            `insert into raw_devices (device_id, tenant_id, serial_number, platform, status, certificate_not_after, credential_hash, enrolled_at)
             values ($1, $2, $3, 'windows', 'active', $4, $5, now())`,
            [randomUUID(), tenantId, `RAW-${seq++}`, notAfter, randomBytes(32).toString('hex')],
          );
          await c.query('commit');
          return 1;
        });
        return { ...run, connections };
      } finally {
        await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      }
    },
    { migrations: [RawDevicesTable], poolSize: 2 },
  );
}

/** A Kafka client for the bench; starts the project's broker when nothing answers. */
export async function benchKafka(clientId = 'bench'): Promise<Kafka> {
  const kafka = createKafka({ clientId, brokers: benchConfig.brokers, logger: kafkaLogger });
  if (!(await kafkaReachable(kafka, 3000))) {
    execFileSync('bash', [path.join(ROOT, 'infra/kafka/kafka.sh'), 'start'], { stdio: 'inherit' });
  }
  return kafka;
}

/**
 * Runs fn against a fresh, migrated schema (the platform's migrations, as testDatabase does, plus
 * the scenario's own) and drops the schema afterwards, whatever happened.
 */
export async function withSchema<T>(
  prefix: string,
  fn: (db: Database) => Promise<T>,
  opts: { migrations?: MigrationClass[]; poolSize?: number } = {},
): Promise<T> {
  const db = new Database({
    url: benchConfig.databaseUrl,
    schema: uniqueName(`bench_${prefix}`),
    migrations: [EventStoreSchema1764200000000, InboxSchema1764200000001, ...(opts.migrations ?? [])],
    poolSize: opts.poolSize ?? 12,
    applicationName: `bench-${prefix}`,
  });
  try {
    await db.migrate();
    return await fn(db);
  } finally {
    await db.query(`drop schema if exists ${db.schema} cascade`).catch((err) => logger.warn({ err }, 'drop schema failed'));
    await db.close();
  }
}

/** `n` raw pg sessions on the database's schema (the caller ends them). */
export function connectClients(db: Database, n: number): Promise<Client[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const c = new Client(db.clientConfig());
      await c.connect();
      return c;
    }),
  );
}

/** A fresh topic name (the broker does not auto-create topics). */
export function benchTopic(label: string, partitions = benchConfig.partitions): TopicSpec {
  return { topic: `mdm.bench.${label}.${randomBytes(5).toString('hex')}`, partitions, retentionMs: 3_600_000 };
}

/** Creates the topics with ensureTopics, runs fn, then deletes the topics (and the consumer groups given). */
export async function withTopics<T>(
  kafka: Kafka,
  specs: TopicSpec[],
  fn: () => Promise<T>,
  groups: string[] = [],
): Promise<T> {
  await ensureTopics(kafka, specs);
  try {
    return await fn();
  } finally {
    const admin = kafka.admin();
    await admin.connect();
    try {
      if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
      await admin.deleteTopics({ topics: specs.map((s) => s.topic) }).catch((err) => logger.warn({ err }, 'delete topics failed'));
    } finally {
      await admin.disconnect();
    }
  }
}

/**
 * Runs `workers` loops of `step` (each call returns the units it did) for a warm-up and then for
 * durationMs; the rate counts only the measured window.
 */
export async function timeBoxed(
  workers: number,
  step: (worker: number) => Promise<number>,
  durationMs = benchConfig.durationMs,
  warmupMs = benchConfig.warmupMs,
): Promise<{ units: number; seconds: number; rate: number }> {
  const run = async (ms: number) => {
    const start = performance.now();
    const deadline = start + ms;
    let units = 0;
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        while (performance.now() < deadline) {
          const done = await step(w); // not `units += await ...`: that reads units before the await
          units += done;
        }
      }),
    );
    return { units, seconds: (performance.now() - start) / 1000 };
  };
  if (warmupMs > 0) await run(warmupMs);
  const { units, seconds } = await run(durationMs);
  return { units, seconds, rate: units / seconds };
}

export function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}

export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
