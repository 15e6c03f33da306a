import { randomUUID } from 'node:crypto';
import { DomainError, EventEnvelope, EventRegistry } from '@mdm/contracts/core';
import { Clock, systemClock } from '@mdm/platform/clock';
import { Sql } from '@mdm/platform/database';
import { AppendOptions, AppendResult, EventStreams, NewEvent, Transactions, VersionConflictError } from '@mdm/platform/event-store';

/** A message the store would have handed to its outbox: an event whose type is routed to a topic. */
export interface OutboxMessage {
  topic: string;
  key: string;
  envelope: EventEnvelope;
}

/** A transaction of the in-memory store: its appends are undone when the transaction's function throws. */
class InMemoryTransaction implements Sql {
  readonly undo: (() => void)[] = [];
  async query<T>(): Promise<T[]> {
    throw new Error('the in-memory event store runs no SQL: test this command against Postgres (an int-spec)');
  }
}

/**
 * The event store's contract in memory (emmett's in-memory store): streams with an expected version,
 * tenant ownership, payloads validated by the registry, and the outbox messages an append would
 * write. Command tests run on it in milliseconds, without Postgres or Kafka; the Postgres store's
 * own tests (event-store.int-spec.ts) prove the same contract against the database.
 */
export class InMemoryEventStore implements EventStreams, Transactions {
  private readonly streams = new Map<string, EventEnvelope[]>();
  /** Every event in append order: its index + 1 is its global position. */
  private readonly log: EventEnvelope[] = [];
  readonly outbox: OutboxMessage[] = [];

  constructor(
    private readonly registry: EventRegistry,
    private readonly clock: Clock = systemClock,
  ) {}

  async readStream(streamId: string): Promise<EventEnvelope[]> {
    return [...(this.streams.get(streamId) ?? [])];
  }

  async append(streamId: string, events: NewEvent[], opts: AppendOptions, sql?: Sql): Promise<AppendResult> {
    if (events.length === 0) throw new Error('append needs at least one event');
    const stream = this.streams.get(streamId) ?? [];
    const owned = stream.length === 0 || stream[0].tenantId === opts.tenantId;
    if (!owned || (opts.expectedVersion !== 'any' && opts.expectedVersion !== stream.length)) {
      throw new VersionConflictError(streamId, opts.expectedVersion === 'any' ? -1 : opts.expectedVersion, stream.length || null);
    }
    const recordedAt = this.clock.now().toISOString();
    const envelopes: EventEnvelope[] = events.map((e, i) => ({
      eventId: e.eventId ?? randomUUID(),
      type: e.type,
      schemaVersion: this.registry.get(e.type).schemaVersion,
      streamId,
      streamVersion: stream.length + 1 + i,
      tenantId: opts.tenantId,
      occurredAt: opts.occurredAt?.toISOString() ?? recordedAt,
      recordedAt,
      actor: opts.actor,
      correlationId: opts.correlationId ?? randomUUID(),
      causationId: opts.causationId ?? null,
      data: this.registry.validateForWrite(e.type, e.data),
    }));
    const messages = envelopes.flatMap((envelope) => {
      const { topic, alsoOn = [] } = this.registry.get(envelope.type);
      return topic ? [topic, ...alsoOn].map((t) => ({ topic: t, key: streamId, envelope })) : [];
    });
    this.streams.set(streamId, [...stream, ...envelopes]);
    this.log.push(...envelopes);
    this.outbox.push(...messages);
    if (sql instanceof InMemoryTransaction) {
      sql.undo.push(() => {
        this.streams.set(streamId, stream);
        this.log.splice(this.log.length - envelopes.length, envelopes.length);
        this.outbox.splice(this.outbox.length - messages.length, messages.length);
      });
    }
    return { streamVersion: stream.length + envelopes.length, envelopes };
  }

  async eventsOfType(type: string, afterPosition: number, limit: number): Promise<{ position: number; event: EventEnvelope }[]> {
    return this.log
      .map((event, i) => ({ position: i + 1, event }))
      .filter(({ position, event }) => event.type === type && position > afterPosition)
      .slice(0, limit);
  }

  async query<T>(): Promise<T[]> {
    return new InMemoryTransaction().query<T>();
  }

  async transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const tx = new InMemoryTransaction();
    try {
      return await fn(tx);
    } catch (err) {
      for (const undo of tx.undo.reverse()) undo();
      throw err;
    }
  }

  /** The events a topic received, in append order. */
  published(topic: string): EventEnvelope[] {
    return this.outbox.filter((m) => m.topic === topic).map((m) => m.envelope);
  }
}

/**
 * Delivers an in-memory store's outbox to a consumer's handler as the inbox does: each event once
 * (by event id, however often it is delivered) and in order per message key.
 */
export class InMemoryInbox {
  private readonly seen = new Set<string>();
  private delivered = 0;

  constructor(
    private readonly source: InMemoryEventStore,
    private readonly handle: (envelope: EventEnvelope) => Promise<void>,
  ) {}

  /** Hands every message the outbox gained since the last drain; returns how many the handler took. */
  async drain(): Promise<number> {
    const pending = this.source.outbox.slice(this.delivered);
    this.delivered += pending.length;
    return this.deliver(pending.map((m) => m.envelope));
  }

  /** Delivers events as a broker might, redeliveries included; an event seen before is skipped. */
  async deliver(envelopes: EventEnvelope[]): Promise<number> {
    let handled = 0;
    for (const envelope of envelopes) {
      if (this.seen.has(envelope.eventId)) continue;
      await this.handle(envelope);
      this.seen.add(envelope.eventId);
      handled++;
    }
    return handled;
  }
}

/**
 * An in-memory store that a rival writer races on demand: before each of the next `times` appends,
 * the rival appends to the same stream first (as of the stream it then finds), so the command's
 * expected version is stale and its append loses. `appends` counts the command's attempts.
 */
export class RacedEventStore extends InMemoryEventStore {
  appends = 0;
  private races = 0;
  private rival: (stream: EventEnvelope[]) => NewEvent[] = () => [];
  private rivalActor = '';

  race(times: number, rival: (stream: EventEnvelope[]) => NewEvent[], actor = 'user:other'): void {
    this.races = times;
    this.rival = rival;
    this.rivalActor = actor;
    this.appends = 0;
  }

  override async append(streamId: string, events: NewEvent[], opts: AppendOptions, sql?: Sql): Promise<AppendResult> {
    this.appends++;
    if (this.races > 0) {
      this.races--;
      const stream = await this.readStream(streamId);
      await super.append(streamId, this.rival(stream), { ...opts, actor: this.rivalActor, expectedVersion: stream.length });
    }
    return super.append(streamId, events, opts, sql);
  }
}

/** The DomainError a command was refused with; anything else (an answer, another error) fails the test. */
export async function refusalOf(command: Promise<unknown>): Promise<DomainError> {
  const err = await command.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof DomainError)) throw new Error(`expected a refusal, got ${String(err)}`);
  return err;
}
