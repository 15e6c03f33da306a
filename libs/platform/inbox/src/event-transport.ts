import { CustomTransportStrategy, EventPattern, MessageHandler, Server } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { EventEnvelope } from '@mdm/contracts/core';
import { Sql } from '@mdm/platform/database';
import { runWithContext } from '@mdm/platform/logging';
import { BatchHandler, InboxConsumer, InboxConsumerSettings, inEventContext, sharedContext } from './inbox-consumer';

/** What an `@EventPattern` or `@EventBatch` handler receives beside the events: the inbox transaction to write in. */
export class InboxContext {
  constructor(readonly sql: Sql) {}
}

/**
 * Like `@EventPattern(type)`, for a handler that takes the events of its type that come one after
 * another in a transaction as one array, in order: one statement for many events. Events of other
 * types between them split the array, so every event is still applied in its turn.
 *
 * The handler runs in the context its events share (`sharedContext`); a step done for one event
 * (a log line, an append left to take its correlation from the context) runs in `inEventContext`,
 * and an append made for many events at once gives each its `eventContext`.
 */
export const EventBatch = (type: string): MethodDecorator => EventPattern(type, { batch: true });

/** The pattern of the `@BeforeEvents` handler (no event has this type). */
export const BEFORE_EVENTS = 'inbox:before-events';

/**
 * A handler that runs first in every inbox transaction, with all the events the transaction applies
 * (as `@EventBatch`, in the context they share). For a consumer whose handlers lock rows that other
 * transactions lock too: taken here, in one statement and one order, they cannot deadlock, where
 * each handler taking its own rows in turn could hold some while waiting for others.
 */
export const BeforeEvents = (): MethodDecorator => EventPattern(BEFORE_EVENTS, { batch: true });

/** The events split where their type changes, in order. */
export function runsOfOneType<E extends { type: string }>(events: E[]): E[][] {
  const runs: E[][] = [];
  for (const event of events) {
    const last = runs[runs.length - 1];
    if (last?.[0].type === event.type) last.push(event);
    else runs.push([event]);
  }
  return runs;
}

export interface InboxTransportOptions extends Omit<InboxConsumerSettings, 'ignores'> {
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
      this.consumer = new InboxConsumer({ ...options, handleBatch: this.dispatch, ...(ignores && { ignores }) });
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
  private readonly handlers = new Map<string, MessageHandler | null>();

  private handlerOf(type: string): MessageHandler | null {
    if (!this.handlers.has(type)) this.handlers.set(type, this.getHandlerByPattern(type));
    return this.handlers.get(type)!;
  }

  /**
   * The `@BeforeEvents` handler with every event, then each run of consecutive events of one type
   * goes to its handler: at once to an `@EventBatch` one, in the context the events share, else one
   * by one, each in its own.
   */
  private readonly dispatch: BatchHandler = async (items, sql) => {
    const context = new InboxContext(sql);
    const all = items.map((i) => i.event);
    const before = this.handlerOf(BEFORE_EVENTS);
    if (before && all.length > 0) await runWithContext(sharedContext(all), () => this.invoke(before, all, context));
    for (const events of runsOfOneType(all)) {
      const handler = this.handlerOf(events[0].type);
      if (!handler) continue;
      if (handler.extras?.batch) await runWithContext(sharedContext(events), () => this.invoke(handler, events, context));
      else for (const event of events) await inEventContext(event, () => this.invoke(handler, event, context));
    }
  };

  private async invoke(handler: MessageHandler, data: EventEnvelope | EventEnvelope[], context: InboxContext): Promise<void> {
    await lastValueFrom(this.transformToObservable(await handler(data, context)), { defaultValue: undefined });
  }
}
