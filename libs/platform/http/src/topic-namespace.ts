import { EventDefinition, TopicSpec } from '@mdm/contracts/core';

/** What a service declares about topics (a ServiceDefinition has it): the events it writes, produced and consumed topics. */
export interface TopicDeclarations {
  events: readonly EventDefinition[];
  produces: readonly TopicSpec[];
  consumes?: { topics: readonly TopicSpec[] };
}

/** mdm.x.events → mdm.<namespace>.x.events */
export const namespacedTopic = (topic: string, namespace: string) => topic.replace(/^mdm\./, `mdm.${namespace}.`);

/**
 * The same service on topics of a namespace of its own (KAFKA_TOPIC_NAMESPACE, or a test stack's
 * tag): several systems can then share one broker without reading each other's history.
 * `onTopic` sees every renamed topic (a test stack removes them afterwards).
 */
export function withTopicNamespace<S extends TopicDeclarations>(d: S, namespace: string, onTopic?: (spec: TopicSpec) => void): S {
  const topic = (spec: TopicSpec): TopicSpec => {
    const renamed = { ...spec, topic: namespacedTopic(spec.topic, namespace) };
    onTopic?.(renamed);
    return renamed;
  };
  const event = (def: EventDefinition): EventDefinition =>
    def.topic ? { ...def, topic: namespacedTopic(def.topic, namespace), alsoOn: def.alsoOn?.map((t) => namespacedTopic(t, namespace)) } : def;
  return {
    ...d,
    events: d.events.map(event),
    produces: d.produces.map(topic),
    consumes: d.consumes && { ...d.consumes, topics: d.consumes.topics.map(topic) },
  };
}
