import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { EventEnvelope } from '@mdm/contracts/core';
import { Sql } from '@mdm/platform/database';
import { Delivery, EventHandler, InboxConsumer, InboxConsumerOptions } from './inbox-consumer';

/** What an `@EventPattern` handler receives beside the event: the inbox transaction to write in. */
export class InboxContext {
  constructor(
    readonly sql: Sql,
    readonly delivery: Delivery,
  ) {}
}

export interface InboxTransportOptions extends Omit<InboxConsumerOptions, 'handle' | 'handleBatch' | 'ignores'> {
  /**
   * The prefixes of the streams read-your-writes waits on in this service. Given, an event that no
   * handler takes and whose stream is none of these is ignored (no transaction); absent, every
   * event is recorded.
   */
  awaitedStreams?: readonly string[];
}

/**
 * A Nest transport over the inbox consumer: handlers are declared with `@EventPattern('<event type>')`
 * and run inside the transaction that records the event in the inbox. Events no handler declares
 * are recorded and skipped, or ignored (see `awaitedStreams`). Kafka carries events only: no request-reply.
 */
export class InboxEventTransport extends Server implements CustomTransportStrategy {
  private consumer: InboxConsumer | undefined;

  constructor(private readonly transportOptions: InboxTransportOptions) {
    super();
  }

  get inbox(): InboxConsumer | undefined {
    return this.consumer;
  }

  async listen(callback: (err?: unknown) => void): Promise<void> {
    try {
      const { awaitedStreams, ...options } = this.transportOptions;
      const ignores =
        awaitedStreams &&
        ((e: { type: string; streamId: string }) => !this.handlerOf(e.type) && !awaitedStreams.some((prefix) => e.streamId.startsWith(prefix)));
      this.consumer = new InboxConsumer({ ...options, handle: this.dispatch, ...(ignores && { ignores }) });
      await this.consumer.start();
      callback();
    } catch (err) {
      callback(err);
    }
  }

  async close(): Promise<void> {
    await this.consumer?.stop();
  }

  on(): never {
    throw new Error('InboxEventTransport has no transport events to subscribe to');
  }

  unwrap<T>(): T {
    return this.consumer as T;
  }

  /** Handlers by event type, looked up once each: Nest's lookup normalises the pattern on every call. */
  private readonly handlers = new Map<string, ReturnType<Server['getHandlerByPattern']>>();

  private handlerOf(type: string) {
    if (!this.handlers.has(type)) this.handlers.set(type, this.getHandlerByPattern(type));
    return this.handlers.get(type);
  }

  private readonly dispatch: EventHandler = async (event: EventEnvelope, sql: Sql, delivery: Delivery) => {
    const handler = this.handlerOf(event.type);
    if (!handler) return;
    await lastValueFrom(this.transformToObservable(await handler(event, new InboxContext(sql, delivery))), {
      defaultValue: undefined,
    });
  };
}
