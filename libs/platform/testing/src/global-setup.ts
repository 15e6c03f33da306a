// jest's moduleNameMapper does not apply to globalSetup: resolve the @mdm/* aliases here.
import 'tsconfig-paths/register';
import { ensureDatabase } from '@mdm/platform/database';
import {
  DEFAULT_TEST_DATABASE_URL,
  TEST_RUN_VARIABLE,
  dropTestSchemas,
  holdTestRun,
  kafkaAnswers,
  newTestRun,
  startLocalKafka,
  waitForKafka,
} from './infrastructure';

/** Containers started here, and the connection that marks this run alive: closed by global-teardown. */
export const CONTAINERS_KEY = '__MDM_TEST_CONTAINERS__';
export const RUN_LOCK_KEY = '__MDM_TEST_RUN_LOCK__';

async function dockerAvailable(): Promise<boolean> {
  if (process.env.TEST_INFRA === 'external') return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/**
 * Integration tests run against a real broker and a real Postgres: containers where a Docker engine
 * answers, otherwise the local services (KAFKA_BROKERS / DATABASE_URL, or the project's broker and
 * 127.0.0.1:5432). Connection settings reach the test workers through the environment.
 */
export default async function globalSetup(): Promise<void> {
  const given = Boolean(process.env.KAFKA_BROKERS && process.env.DATABASE_URL);
  if (!given && (await dockerAvailable())) {
    const { KafkaContainer } = await import('@testcontainers/kafka');
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const [kafka, pg] = await Promise.all([
      new KafkaContainer(process.env.KAFKA_IMAGE ?? 'confluentinc/cp-kafka:7.9.1').withKraft().start(),
      new PostgreSqlContainer(process.env.POSTGRES_IMAGE ?? 'postgres:15-alpine').start(),
    ]);
    (globalThis as Record<string, unknown>)[CONTAINERS_KEY] = [kafka, pg];
    process.env.KAFKA_BROKERS = `${kafka.getHost()}:${kafka.getMappedPort(9093)}`;
    process.env.DATABASE_URL = pg.getConnectionUri();
    process.env.TEST_INFRA = 'testcontainers';
  } else {
    process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
    process.env.DATABASE_URL ??= DEFAULT_TEST_DATABASE_URL;
    process.env.TEST_INFRA = 'local';
    if (!(await kafkaAnswers(process.env.KAFKA_BROKERS.split(',')))) startLocalKafka();
  }
  await waitForKafka(process.env.KAFKA_BROKERS.split(','));
  await ensureDatabase(process.env.DATABASE_URL);
  // The workers name their schemas after this run; another run drops them only once this one has ended.
  process.env[TEST_RUN_VARIABLE] = newTestRun();
  (globalThis as Record<string, unknown>)[RUN_LOCK_KEY] = await holdTestRun(process.env.DATABASE_URL, process.env[TEST_RUN_VARIABLE]);
  await dropTestSchemas(process.env.DATABASE_URL);
  process.stdout.write(
    `\nintegration infrastructure: ${process.env.TEST_INFRA} (Kafka ${process.env.KAFKA_BROKERS}, Postgres ${redact(process.env.DATABASE_URL)})\n`,
  );
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
