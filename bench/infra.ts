import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { TopicSpec } from '@mdm/contracts/core';
import { Database, MigrationClass } from '@mdm/platform/database';
import { EventStoreSchema1764200000000 } from '@mdm/platform/event-store';
import { InboxSchema1764200000001 } from '@mdm/platform/inbox';
import { Kafka, createKafka, ensureTopics, kafkaReachable } from '@mdm/platform/kafka';
import { uniqueName } from '@mdm/platform/testing';
import { benchConfig, kafkaLogger, logger } from './config';

const ROOT = path.resolve(__dirname, '..');

/** Creates the bench database when it is missing. */
export async function ensureDatabase(url = benchConfig.databaseUrl): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await client.query(`create database "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
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
