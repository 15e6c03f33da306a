import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { ServiceRuntime } from '@mdm/platform/http';
import { ProcessStack, startProcessStack } from '../tools/stack/processes';
import { ServicesFrom, stackServices } from '../tools/stack/services';
import { benchConfig } from './config';
import { caughtUp } from './infra';

/** What the load scenarios need of a running system: where the gateway is, and each service's data and groups. */
export interface BenchStack {
  gateway: { url: string };
  licensing: { runtime: ServiceRuntime };
  enrollment: { runtime: ServiceRuntime };
  deviceSync: { url: string; runtime: ServiceRuntime };
  operatorToken: string;
  /** MDM_GATEWAY_SIGNING_KEY of every service: what a load generator calling a service directly signs with. */
  signingKey: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * The system as it is deployed: every service a process of its own (as `npm start` runs them), on
 * the bench database, with schemas, consumer groups and a topic namespace of this run, removed by
 * stop(). The bench process keeps a ServiceRuntime per service (never started) for the services'
 * schemas and consumer groups, to seed data and to wait for consumers. startMs: how long the
 * services took to start, each once the one before answered /health, until the gateway did.
 * `overrides` are settings for every service (and those runtimes).
 */
export async function processStack(
  from: ServicesFrom = 'dist',
  overrides: NodeJS.ProcessEnv = {},
  replicas?: Record<string, number>,
): Promise<BenchStack & { startMs: number; processes: ProcessStack; envOf(app: string): NodeJS.ProcessEnv }> {
  const run = randomBytes(3).toString('hex');
  const operatorToken = `op_bench_${randomBytes(18).toString('base64url')}`;
  const signingKey = randomBytes(32).toString('base64url');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    DATABASE_URL: benchConfig.databaseUrl,
    KAFKA_BROKERS: benchConfig.brokers.join(','),
    KAFKA_TOPIC_NAMESPACE: `bench-${run}`,
    LOG_LEVEL: 'warn',
    MDM_OPERATOR_TOKEN: operatorToken,
    MDM_GATEWAY_SIGNING_KEY: signingKey,
    MDM_SERVICES_FROM: from,
    ...overrides,
  };
  const own = new Map<string, Record<string, string>>();
  for (const { app, definition } of stackServices) {
    own.set(app, {
      [definition.portVariable]: String(await freePort()),
      DB_SCHEMA: `bench_${run}_${app.replace('-', '_')}`,
      ...(definition.consumes && { KAFKA_CONSUMER_GROUP: `bench-${run}.${definition.consumes.groupId}` }),
    });
  }
  const started = performance.now();
  const stack = await startProcessStack({
    env,
    logDir: path.join(os.tmpdir(), `mdm-bench-${run}`),
    serviceEnv: ({ app }) => own.get(app)!,
    say: (line) => process.stderr.write(`\n${line} (during the bench)\n`),
    replicas,
  });
  const startMs = performance.now() - started;
  const runtimes = new Map<string, ServiceRuntime>();
  try {
    for (const { app, definition } of stackServices) {
      const runtime = new ServiceRuntime(definition, { ...env, ...own.get(app), LOG_LEVEL: 'warn' });
      await runtime.db.connect();
      runtimes.set(app, runtime);
    }
    // As in the e2e stack: every consumer group has joined and committed what is there before any call.
    await caughtUp([...runtimes.values()].filter((r) => r.definition.consumes).map((runtime) => ({ runtime })));
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const url = (app: string) => stack.services.find((s) => s.app === app)!.url;
  return {
    gateway: { url: stack.url },
    licensing: { runtime: runtimes.get('licensing')! },
    enrollment: { runtime: runtimes.get('enrollment')! },
    deviceSync: { url: url('device-sync'), runtime: runtimes.get('device-sync')! },
    operatorToken,
    signingKey,
    startMs,
    processes: stack,
    envOf: (app) => ({ ...env, ...own.get(app) }),
    stop: async () => {
      await stack.stop();
      const admin = runtimes.get('api-gateway')!.kafka.admin();
      await admin.connect();
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(`mdm.bench-${run}.`) || t.startsWith(`mdm.dlq.bench-${run}.`));
      await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.deleteGroups([...own.values()].flatMap((e) => (e.KAFKA_CONSUMER_GROUP ? [e.KAFKA_CONSUMER_GROUP] : []))).catch(() => undefined);
      await admin.disconnect();
      for (const runtime of runtimes.values()) await runtime.db.close();
      const client = new Client({ connectionString: benchConfig.databaseUrl });
      await client.connect();
      for (const { DB_SCHEMA } of own.values()) await client.query(`drop schema if exists ${DB_SCHEMA} cascade`);
      await client.end();
    },
  };
}
