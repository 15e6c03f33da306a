import { randomBytes } from 'node:crypto';
import { Database, MigrationClass } from '@mdm/platform/database';
import { EventStoreSchema1764200000000 } from '@mdm/platform/event-store';
import { CallSigner, signedContextHeader } from '@mdm/platform/http-client';
import { inboxMigrations } from '@mdm/platform/inbox';

import { TEST_RUN_VARIABLE, newTestRun } from './infrastructure';

export { WORKSPACE_ROOT } from './infrastructure';

/** Test schemas carry this prefix and their run's id; global setup drops the ones runs that ended left. */
export const TEST_SCHEMA_PREFIX = 't_';

/** This jest run's id (global setup sets it for the workers); a process outside jest has one of its own. */
const TEST_RUN = (process.env[TEST_RUN_VARIABLE] ??= newTestRun());

/** A fresh name per test: schemas, consumer groups and clocks never collide across tests or runs. */
export function uniqueName(prefix: string): string {
  return `${TEST_SCHEMA_PREFIX}${TEST_RUN}_${prefix}_${randomBytes(5).toString('hex')}`.toLowerCase();
}

/** The signing key of every service a test process starts (testEnv), as `npm start` shares one. */
export const TEST_SIGNING_KEY = randomBytes(32).toString('base64url');

/**
 * The headers of a call to a service as the gateway relays it (its signed context, bound to the
 * call): what a test calling a service directly sends in the gateway's place.
 */
export function asGateway(method: string, url: URL | string, context: { actor?: string; tenantId?: string } = {}, body?: string): Record<string, string> {
  return signedContextHeader(new CallSigner(TEST_SIGNING_KEY, 'api-gateway'), method, new URL(url), { actor: 'token:test', ...context }, body);
}

/** The environment of a service under test: the harness's infrastructure, its own schema, a free port. */
export function testEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    NODE_ENV: 'test',
    MDM_GATEWAY_SIGNING_KEY: TEST_SIGNING_KEY,
    DATABASE_URL: process.env.DATABASE_URL,
    KAFKA_BROKERS: process.env.KAFKA_BROKERS,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // Two test files run at once, each with a stack of five services: stay well under Postgres's 100.
    DB_POOL_SIZE: '4',
    // The tests refuse many device credentials from loopback on purpose; the limit on repeated refusals
    // has its own test (device-failures.int-spec), with a low limit.
    DEVICE_FAILURE_LIMIT: '1000000',
    ...extra,
  };
}

/** A migrated database in a schema of its own, with the platform's tables. */
export async function testDatabase(prefix: string, migrations: MigrationClass[] = []): Promise<Database> {
  const db = new Database({
    url: process.env.DATABASE_URL!,
    schema: uniqueName(prefix),
    migrations: [EventStoreSchema1764200000000, ...inboxMigrations, ...migrations],
    poolSize: 4,
  });
  await db.migrate();
  return db;
}

/** Polls until the check passes (returns without throwing) or the time is up; the last failure is rethrown. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
export * from './kafka';
export * from './pki';
export * from './fixtures';
export * from './isolated-topics';
export * from './tcp-proxy';
export * from './ports';
export * from './in-memory-event-store';
export * from './contract-routes';
