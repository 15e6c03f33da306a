import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { ServiceRuntime } from '@mdm/platform/http';
import { freePort } from '@mdm/platform/testing';
import { ProcessStack, startProcessStack } from '../tools/stack/processes';
import { ServicesFrom, serviceCommand, servicesFrom, stackServices } from '../tools/stack/services';
import { benchConfig } from './config';
import { MeteredProcess } from './cpu';
import { caughtUp } from './infra';

/** What the load scenarios need of a running system: where the gateway is, and each service's data and groups. */
export interface BenchStack {
  gateway: { url: string };
  licensing: { runtime: ServiceRuntime };
  enrollment: { runtime: ServiceRuntime };
  deviceSync: { url: string; runtime: ServiceRuntime };
  /** Gateways besides `gateway` (processStack's `gatewayReplicas`): the same system behind more processes. */
  gatewayReplicas?: { url: string }[];
  operatorToken: string;
  /** MDM_GATEWAY_SIGNING_KEY of every service: what a load generator calling a service directly signs with. */
  signingKey: string;
  /** The services' current processes (a multi-process stack only), for CPU accounting. */
  metered?: () => MeteredProcess[];
  stop(): Promise<void>;
}


/** What every service process of a bench run starts with: the bench's database and broker, the run's topic namespace. */
export function benchRunEnv(run: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: 'development',
    DATABASE_URL: benchConfig.databaseUrl,
    KAFKA_BROKERS: benchConfig.brokers.join(','),
    KAFKA_TOPIC_NAMESPACE: `bench-${run}`,
  };
}

/**
 * The system as it is deployed: every service a process of its own (as `npm start` runs them), on
 * the bench database, with schemas, consumer groups and a topic namespace of this run, removed by
 * stop(). The bench process keeps a ServiceRuntime per service (never started) for the services'
 * schemas and consumer groups, to seed data and to wait for consumers. startMs: how long the
 * services took to start (all at once) until every one answered /health.
 * `overrides` are settings for every service (and those runtimes).
 */
export async function processStack(
  from: ServicesFrom = 'dist',
  overrides: NodeJS.ProcessEnv = {},
  replicas?: Record<string, number>,
  gatewayReplicas = 0,
): Promise<BenchStack & { startMs: number; processes: ProcessStack; envOf(app: string): NodeJS.ProcessEnv }> {
  const run = randomBytes(3).toString('hex');
  const operatorToken = `op_bench_${randomBytes(18).toString('base64url')}`;
  const signingKey = randomBytes(32).toString('base64url');
  const env: NodeJS.ProcessEnv = {
    ...benchRunEnv(run),
    LOG_LEVEL: benchConfig.serviceLogLevel,
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
    // The sources through the transpiler, six at once on a loaded machine, can take minutes.
    healthTimeoutMs: 300_000,
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
  const extraGateways: Replica[] = [];
  try {
    const urls = Object.fromEntries(stackServices.flatMap((s) => (s.urlVariable ? [[s.urlVariable, url(s.app)]] : [])));
    for (let k = 1; k <= gatewayReplicas; k++) {
      extraGateways.push(await startReplica('api-gateway', { ...env, ...own.get('api-gateway'), ...urls, GATEWAY_PORT: String(await freePort()) }, path.join(os.tmpdir(), `mdm-bench-${run}`, `api-gateway-${k}.log`)));
    }
  } catch (err) {
    for (const r of extraGateways) await r.stop();
    await stack.stop();
    throw err;
  }
  return {
    gateway: { url: stack.url },
    gatewayReplicas: extraGateways.map((r) => ({ url: r.url })),
    licensing: { runtime: runtimes.get('licensing')! },
    enrollment: { runtime: runtimes.get('enrollment')! },
    deviceSync: { url: url('device-sync'), runtime: runtimes.get('device-sync')! },
    operatorToken,
    signingKey,
    metered: () => stack.services.flatMap((s) => (s.supervisor.child?.pid ? [{ name: s.app, pid: s.supervisor.child.pid }] : [])),
    startMs,
    processes: stack,
    envOf: (app) => ({ ...env, ...own.get(app) }),
    stop: async () => {
      for (const r of extraGateways) await r.stop();
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

interface Replica {
  url: string;
  stop(): Promise<void>;
}

/**
 * One more process of a stateless service (the gateway: its tokens and audit are in Postgres, it
 * consumes nothing), as a deployment runs replicas behind a balancer; healthy before it returns.
 */
async function startReplica(app: string, env: NodeJS.ProcessEnv, logFile: string): Promise<Replica> {
  const port = env.GATEWAY_PORT!;
  const url = `http://127.0.0.1:${port}`;
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, serviceCommand(app, servicesFrom(env)), { cwd: path.join(__dirname, '..'), env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  const deadline = performance.now() + 90_000;
  while (performance.now() < deadline && child.exitCode === null) {
    const healthy = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (healthy) return { url, stop };
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`${app} replica did not become healthy: see ${logFile}`);
}
