import { z } from 'zod';
import { TopicSpec, Topics, defineEvent } from '@mdm/contracts/core';
import { ServiceRuntime } from './service-runtime';

const Pinged = defineEvent({ type: 'Pinged', topic: Topics.authorityEvents.topic, alsoOn: [Topics.deviceCertificates.topic], data: z.object({}) });

describe('topic namespaces', () => {
  it('KAFKA_TOPIC_NAMESPACE puts every topic a service writes, reads and routes events to under mdm.<namespace>.', () => {
    const runtime = new ServiceRuntime(
      {
        name: 'probe',
        portVariable: 'PROBE_PORT',
        defaultPort: 3999,
        schema: 'probe',
        migrations: [],
        events: [Pinged],
        produces: [Topics.authorityEvents, Topics.deviceCertificates],
        consumes: { groupId: 'probe.g', topics: [Topics.enrollmentEvents] },
      },
      { KAFKA_TOPIC_NAMESPACE: 'staging-2', LOG_LEVEL: 'silent' },
    );
    expect(runtime.topics().map((t) => t.topic)).toEqual([
      'mdm.staging-2.authority.events',
      'mdm.staging-2.devicesync.certificates',
      'mdm.staging-2.enrollment.events',
      'mdm.dlq.probe.g',
    ]);
    expect(runtime.registry.get('Pinged').topic).toBe('mdm.staging-2.authority.events');
    expect(runtime.registry.get('Pinged').alsoOn).toEqual(['mdm.staging-2.devicesync.certificates']);
    expect(runtime.topicName(Topics.enrollmentEvents)).toBe('mdm.staging-2.enrollment.events');
  });

  it('refuses to start a service that publishes an event also on a topic it does not create', () => {
    const definition = { name: 'probe', portVariable: 'PROBE_PORT', defaultPort: 3999, schema: 'probe', migrations: [], events: [Pinged] };
    const start = (produces: TopicSpec[]) => new ServiceRuntime({ ...definition, produces }, { LOG_LEVEL: 'silent' });
    expect(() => start([Topics.authorityEvents])).toThrow('probe: Pinged is also published on mdm.devicesync.certificates, which is not among its produced topics');
    expect(() => start([Topics.authorityEvents, Topics.deviceCertificates])).not.toThrow();
    // An event it only reads (another service publishes it) needs nothing of it.
    expect(() => start([])).not.toThrow();
  });
});
