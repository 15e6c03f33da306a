import { EventDefinition, TopicSpec } from '@mdm/contracts/core';
import type { ServiceDefinition } from '@mdm/platform/http';

/**
 * The services' event topics renamed for one stack (mdm.x.events → mdm.<tag>.x.events): a fresh
 * consumer group then has no history of earlier stacks to replay, and a stack's events do not pile
 * up on topics other stacks read. The same event definition always maps to the same copy.
 */
export class IsolatedTopics {
  readonly specs = new Map<string, TopicSpec>();
  private readonly events = new Map<EventDefinition, EventDefinition>();

  constructor(private readonly tag: string) {}

  definition<S extends ServiceDefinition>(d: S): S {
    return {
      ...d,
      events: d.events.map((e) => this.event(e)),
      produces: d.produces.map((t) => this.topic(t)),
      consumes: d.consumes && { ...d.consumes, topics: d.consumes.topics.map((t) => this.topic(t)) },
    };
  }

  private topic(spec: TopicSpec): TopicSpec {
    const renamed = { ...spec, topic: this.name(spec.topic) };
    this.specs.set(renamed.topic, renamed);
    return renamed;
  }

  private name(topic: string): string {
    return topic.replace(/^mdm\./, `mdm.${this.tag}.`);
  }

  private event(def: EventDefinition): EventDefinition {
    let copy = this.events.get(def);
    if (!copy) {
      copy = def.topic ? { ...def, topic: this.name(def.topic) } : def;
      this.events.set(def, copy);
    }
    return copy;
  }
}
