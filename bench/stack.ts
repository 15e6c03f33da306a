import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { EventDefinition, TopicSpec, deadLetterTopic } from '@mdm/contracts/core';
import { RunningService, ServiceDefinition, startService } from '@mdm/platform/http';
import { groupCaughtUp, uniqueName } from '@mdm/platform/testing';
import { authorityService } from '../apps/authority/src/authority.definition';
import { AuthorityModule } from '../apps/authority/src/authority.module';
import { enrollmentService } from '../apps/enrollment/src/enrollment.definition';
import { EnrollmentModule } from '../apps/enrollment/src/enrollment.module';
import { gatewayService } from '../apps/api-gateway/src/gateway.definition';
import { GatewayModule } from '../apps/api-gateway/src/gateway.module';
import { licensingService } from '../apps/licensing/src/licensing.definition';
import { LicensingModule } from '../apps/licensing/src/licensing.module';
import { benchConfig, logger } from './config';

export interface BenchStack {
  gateway: RunningService;
  authority: RunningService;
  licensing: RunningService;
  enrollment: RunningService;
  operatorToken: string;
  /** Closes the services, drops their schemas, deletes their consumer groups and dead-letter topics. */
  stop(): Promise<void>;
}

/** A service's environment: the bench's Postgres and Kafka, quiet logs, system clock, a free port. */
function benchEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: benchConfig.databaseUrl,
    KAFKA_BROKERS: benchConfig.brokers.join(','),
    LOG_LEVEL: process.env.BENCH_SERVICE_LOG_LEVEL ?? 'warn',
    MDM_TEST_CLOCK: '0',
    ...extra,
  };
}

/**
 * The services' event topics renamed for this run (mdm.x.events -> mdm.bench.<run>.x.events): a
 * fresh group then has no history to replay, and the run's events do not pile up on the topics the
 * e2e tests and later runs replay. The same event definition always maps to the same copy.
 */
class RunTopics {
  readonly specs = new Map<string, TopicSpec>();
  private readonly events = new Map<EventDefinition, EventDefinition>();

  constructor(private readonly tag: string) {}

  private topic(spec: TopicSpec): TopicSpec {
    const renamed = { ...spec, topic: this.name(spec.topic) };
    this.specs.set(renamed.topic, renamed);
    return renamed;
  }

  private name(topic: string): string {
    return topic.replace(/^mdm\./, `mdm.bench.${this.tag}.`);
  }

  private event(def: EventDefinition): EventDefinition {
    let copy = this.events.get(def);
    if (!copy) {
      copy = def.topic ? { ...def, topic: this.name(def.topic) } : def;
      this.events.set(def, copy);
    }
    return copy;
  }

  definition<S extends ServiceDefinition>(d: S): S {
    return {
      ...d,
      events: d.events.map((e) => this.event(e)),
      produces: d.produces.map((t) => this.topic(t)),
      consumes: d.consumes && { ...d.consumes, topics: d.consumes.topics.map((t) => this.topic(t)) },
    };
  }
}

/** Polls until check() is true; throws after timeoutMs. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not done after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Whether a consuming service's group has committed everything now on its topics. */
export function consumerCaughtUp(service: RunningService): Promise<boolean> {
  const { runtime } = service;
  const topics = runtime.definition.consumes!.topics.map((t) => t.topic);
  return groupCaughtUp(runtime.kafka, runtime.consumerGroup!, topics);
}

export async function waitCaughtUp(services: RunningService[], timeoutMs = 60_000): Promise<void> {
  for (const s of services) await until(`${s.runtime.definition.name} catching up`, () => consumerCaughtUp(s), timeoutMs);
}

/**
 * The whole system in this process, as the e2e stack starts it (authority, licensing, enrollment,
 * then the gateway in front), each service in a schema of its own and with consumer groups of its
 * own, once the consumers have replayed the topics' history.
 */
export async function startBenchStack(): Promise<BenchStack> {
  const operatorToken = `op_${uniqueName('bench_token')}_0123456789abcdef`;
  const started: RunningService[] = [];
  const schemas: string[] = [];
  const groups: string[] = [];
  const schema = (name: string) => {
    const s = uniqueName(`bench_${name}`);
    schemas.push(s);
    return s;
  };
  const consumer = (name: string) => {
    const group = uniqueName(`bench_${name}`);
    groups.push(group);
    return { KAFKA_CONSUMER_GROUP: group, DB_SCHEMA: schema(name) };
  };

  const topics = new RunTopics(randomBytes(4).toString('hex'));

  const stop = async () => {
    for (const s of [...started].reverse()) await s.close().catch((err) => logger.warn({ err }, 'service close failed'));
    await dropSchemas(schemas);
    await deleteKafkaState(started[0], [...groups.map((g) => deadLetterTopic(g).topic), ...topics.specs.keys()], groups);
  };

  try {
    const start = async (definition: ServiceDefinition, ...rest: Parameters<typeof startService> extends [unknown, ...infer R] ? R : never) => {
      const s = await startService(topics.definition(definition), ...rest);
      started.push(s);
      return s;
    };
    const authority = await start(authorityService, () => AuthorityModule, benchEnv({ AUTHORITY_PORT: '0', DB_SCHEMA: schema('authority') }));
    const licensing = await start(
      licensingService,
      () => LicensingModule,
      benchEnv({ ...consumer('licensing'), LICENSING_PORT: '0', AUTHORITY_URL: authority.url }),
    );
    const enrollment = await start(
      enrollmentService,
      () => EnrollmentModule,
      benchEnv({ ...consumer('enrollment'), ENROLLMENT_PORT: '0', AUTHORITY_URL: authority.url, LICENSING_URL: licensing.url }),
    );
    const gateway = await start(
      gatewayService,
      () => GatewayModule,
      benchEnv({
        GATEWAY_PORT: '0',
        DB_SCHEMA: schema('gateway'),
        MDM_OPERATOR_TOKEN: operatorToken,
        AUTHORITY_URL: authority.url,
        LICENSING_URL: licensing.url,
        ENROLLMENT_URL: enrollment.url,
      }),
    );
    // The run's topics start empty, but wait as the e2e stack does: the groups have joined and committed.
    await waitCaughtUp([licensing, enrollment], 120_000);
    return { gateway, authority, licensing, enrollment, operatorToken, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function dropSchemas(schemas: string[]): Promise<void> {
  const client = new Client({ connectionString: benchConfig.databaseUrl });
  try {
    await client.connect();
    for (const s of schemas) await client.query(`drop schema if exists "${s}" cascade`);
  } catch (err) {
    logger.warn({ err, schemas }, 'drop schemas failed');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The run's topics (events and dead letters) and consumer groups exist only for this run. */
async function deleteKafkaState(any: RunningService | undefined, topics: string[], groups: string[]): Promise<void> {
  if (!any) return;
  const admin = any.runtime.kafka.admin();
  try {
    await admin.connect();
    if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
    if (topics.length) await admin.deleteTopics({ topics }).catch((err) => logger.warn({ err, topics }, 'delete topics failed'));
  } catch (err) {
    logger.warn({ err }, 'deleting the consumer groups failed');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
