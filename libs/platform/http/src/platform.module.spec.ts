import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Topics } from '@mdm/contracts/core';
import { Consumption } from './consumption';
import { PlatformModule } from './platform.module';
import { ServiceDefinition, ServiceRuntime } from './service-runtime';

const probe: ServiceDefinition = {
  name: 'probe',
  portVariable: 'PROBE_PORT',
  defaultPort: 3999,
  schema: 'probe',
  migrations: [],
  events: [],
  produces: [],
};

@Injectable()
class Reader {
  constructor(readonly consumption: Consumption) {}
}

/** The platform's parts for a service run on `env`, with a class that asks for what it consumes. */
function start(definition: ServiceDefinition, env: NodeJS.ProcessEnv) {
  const runtime = new ServiceRuntime(definition, { LOG_LEVEL: 'silent', ...env });
  @Module({ imports: [PlatformModule.forRuntime(runtime)], providers: [Reader] })
  class App {}
  return NestFactory.createApplicationContext(App, { logger: false, abortOnError: false });
}

describe('PlatformModule: what a service consumes (Consumption)', () => {
  const consumer = { ...probe, consumes: { groupId: 'probe.g', topics: [Topics.authorityEvents, Topics.licensingEvents] } };

  it('a consuming service is given its group (KAFKA_CONSUMER_GROUP, else its definition\'s) and its topics as this run names them', async () => {
    const named = await start(consumer, { KAFKA_CONSUMER_GROUP: 'probe.test-7', KAFKA_TOPIC_NAMESPACE: 'test-7' });
    const plain = await start(consumer, {});
    expect({ ...named.get(Reader).consumption }).toEqual({ groupId: 'probe.test-7', topics: ['mdm.test-7.authority.events', 'mdm.test-7.licensing.events'] });
    expect({ ...plain.get(Reader).consumption }).toEqual({ groupId: 'probe.g', topics: ['mdm.authority.events', 'mdm.licensing.events'] });
    await Promise.all([named.close(), plain.close()]);
  });

  it('a service that consumes nothing has no Consumption: a class that asks for one does not start', async () => {
    await expect(start(probe, {})).rejects.toThrow(/Consumption/);
  });
});
