import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';
import { Kafka, logLevel } from 'kafkajs';

export const WORKSPACE_ROOT = path.resolve(__dirname, '../../../..');
export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/mdm_test';

/** Waits until a broker answers a metadata request. */
export async function waitForKafka(brokers: string[], timeoutMs = 60_000): Promise<void> {
  const kafka = new Kafka({ clientId: 'probe', brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.describeCluster();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Kafka is not reachable at ${brokers.join(',')}: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
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

/** Drops the schemas earlier test runs left behind (their names start with t_). */
export async function dropTestSchemas(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      "select nspname as name from pg_namespace where nspname like 't\\_%'",
    );
    for (const { name } of rows) await client.query(`drop schema "${name}" cascade`);
  } finally {
    await client.end();
  }
}
