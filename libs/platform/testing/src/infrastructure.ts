import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Client } from 'pg';
import { quietKafka } from '@mdm/platform/kafka';
import { withRetries } from '@mdm/platform/retry';

export const WORKSPACE_ROOT = path.resolve(__dirname, '../../../..');
export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/mdm_test';

/** Waits until a broker answers a metadata request. */
export async function waitForKafka(brokers: string[], timeoutMs = 60_000): Promise<void> {
  const kafka = quietKafka({ clientId: 'probe', brokers, retry: { retries: 0 } });
  try {
    await withRetries({ retries: Infinity, withinMs: timeoutMs, backoff: { initialMs: 500, maxMs: 500 }, retryError: () => true }, async () => {
      const admin = kafka.admin();
      try {
        await admin.connect();
        await admin.describeCluster();
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    });
  } catch (err) {
    throw new Error(`Kafka is not reachable at ${brokers.join(',')}: ${String(err)}`);
  }
}

export async function kafkaAnswers(brokers: string[]): Promise<boolean> {
  return waitForKafka(brokers, 0).then(
    () => true,
    () => false,
  );
}

/** Starts the project's own broker (infra/kafka/kafka.sh): fetched from Maven Central on first use. */
export function startLocalKafka(): void {
  execFileSync('bash', [path.join(WORKSPACE_ROOT, 'infra/kafka/kafka.sh'), 'start'], { stdio: 'inherit' });
}

export const TEST_RUN_VARIABLE = 'MDM_TEST_RUN';
export const newTestRun = () => randomBytes(3).toString('hex');
const runLock = (run: string) => `mdm-test-run:${run}`;

/**
 * Marks a test run alive for as long as the returned client is open: a session advisory lock on
 * the run's id, so that another run's dropTestSchemas leaves this run's schemas alone.
 */
export async function holdTestRun(url: string, run: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query('select pg_advisory_lock(hashtext($1))', [runLock(run)]);
  return client;
}

/**
 * Drops the schemas that test runs which have ended left behind (`t_<run>_…`): a run whose lock
 * nobody holds has ended. Two jest runs on one database then leave each other's schemas alone.
 */
export async function dropTestSchemas(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>("select nspname as name from pg_namespace where nspname like 't\\_%'");
    const ended = new Map<string, boolean>();
    for (const { name } of rows) {
      const run = /^t_([0-9a-f]{6})_/.exec(name)?.[1];
      if (run && !ended.has(run)) {
        const [{ free }] = (await client.query<{ free: boolean }>('select pg_try_advisory_lock(hashtext($1)) as free', [runLock(run)])).rows;
        ended.set(run, free);
      }
      if (!run || ended.get(run)) await client.query(`drop schema "${name}" cascade`);
    }
  } finally {
    await client.end();
  }
}
