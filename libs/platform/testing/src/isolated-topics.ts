import { TopicSpec } from '@mdm/contracts/core';
import { ServiceDefinition, withTopicNamespace } from '@mdm/platform/http';

/**
 * The services' event topics renamed for one stack (mdm.x.events → mdm.<tag>.x.events): a fresh
 * consumer group then has no history of earlier stacks to replay, and a stack's events do not pile
 * up on topics other stacks read. It remembers the topics, for the stack to remove them.
 */
export class IsolatedTopics {
  readonly specs = new Map<string, TopicSpec>();

  constructor(private readonly tag: string) {}

  definition<S extends ServiceDefinition>(d: S): S {
    return withTopicNamespace(d, this.tag, (spec) => this.specs.set(spec.topic, spec));
  }
}
