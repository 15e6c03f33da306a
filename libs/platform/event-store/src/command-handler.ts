import { EventEnvelope } from '@mdm/contracts/core';
import { Sql } from '@mdm/platform/database';
import { NO_BACKOFF, RetryOptions, withRetries } from '@mdm/platform/retry';
import { Evolver, fold } from './aggregate';
import { VersionConflictError } from './errors';
import { AppendOptions, AppendResult, NewEvent } from './event-store';

/** What a command needs of an event store: a stream's events, and an append with an expected version. */
export interface EventStreams {
  readStream(streamId: string, sql?: Sql): Promise<EventEnvelope[]>;
  append(streamId: string, events: NewEvent[], opts: AppendOptions, sql?: Sql): Promise<AppendResult>;
}

/** A database a command's attempt can run in: one transaction for its reads, its append and its projection. */
export interface Transactions extends Sql {
  transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
}

/**
 * A pure decision on the stream's state. `version` is the stream version it was decided on (a
 * command carrying an expectedVersion compares it there), `sql` where the decision may read what
 * else it needs (inside the attempt's transaction when the handler has one).
 */
export type Decide<S, D> = (state: S, version: number, sql: Sql) => D[] | Promise<D[]>;

export interface CommandResult<S, D> {
  /** The state the decision was taken on. */
  before: S;
  /** What it decided (nothing when the command changes nothing). */
  events: D[];
  /** The state after them, and the stream version it is at (unchanged by a dry run). */
  state: S;
  version: number;
}

export interface CommandHandlerOptions<S, E, D> {
  evolver: Evolver<S, E>;
  /** How a stored event reads as the aggregate's event (the envelope itself by default). */
  toEvent?: (e: EventEnvelope) => E;
  /** How a decided, not yet stored event reads as one, for a dry run (the event itself by default). */
  fromDecided?: (d: D) => E;
  /**
   * Each attempt runs in one transaction: the load, the decision's reads, the append and `project`.
   * Without it the append is one statement of its own and the expected version alone guards it.
   */
  transactional?: boolean;
  /** An inline projection, written in the append's transaction so it can never disagree with the stream. */
  project?: (sql: Sql, tenantId: string, result: CommandResult<S, D>) => Promise<void>;
  /** How many times a decision lost to a concurrent writer is taken again on fresh state. */
  conflictRetries?: number;
}

export interface HandleOptions {
  tenantId: string;
  actor: string;
  /** Decide and answer, append nothing. */
  dryRun?: boolean;
}

/** Attempts after the first when a concurrent writer moved the stream: a few, then the 409 stands. */
const CONFLICT_RETRIES = 2;

/**
 * The one way a command runs (emmett's `handle`, Eventuous's command service): load the stream,
 * take the pure decision on its state, append what was decided with the version it was decided on
 * as the expected version (the store writes the outbox rows of published events in the same
 * statement), and take the decision again on fresh state a bounded number of times when another
 * writer won the race. A command that pinned an expectedVersion is refused by its own decision on
 * the retry, so it gets its 409 rather than a silent overwrite.
 */
export class CommandHandler<S, E, D extends NewEvent = E & NewEvent> {
  private readonly toEvent: (e: EventEnvelope) => E;
  private readonly fromDecided: (d: D) => E;
  private readonly retryOnConflict: RetryOptions<CommandResult<S, D>>;

  constructor(
    private readonly store: EventStreams,
    private readonly db: Transactions,
    private readonly options: CommandHandlerOptions<S, E, D>,
  ) {
    if (options.project && !options.transactional) throw new Error('an inline projection needs a transactional command handler');
    // Envelopes and decided events carry `type` and `data` as the aggregate's events do.
    this.toEvent = options.toEvent ?? ((e) => e as unknown as E);
    this.fromDecided = options.fromDecided ?? ((d) => d as unknown as E);
    this.retryOnConflict = {
      retries: options.conflictRetries ?? CONFLICT_RETRIES,
      backoff: NO_BACKOFF,
      retryError: (err) => err instanceof VersionConflictError,
    };
  }

  /** The stream's state and version. A stream of another tenant reads as absent. */
  async load(streamId: string, tenantId: string, sql?: Sql): Promise<{ state: S; version: number }> {
    const envelopes = await this.store.readStream(streamId, sql);
    if (envelopes.length === 0 || envelopes[0].tenantId !== tenantId) return { state: this.options.evolver.initial, version: 0 };
    return { state: fold(this.options.evolver, envelopes.map(this.toEvent)), version: envelopes[envelopes.length - 1].streamVersion };
  }

  handle(streamId: string, decide: Decide<S, D>, opts: HandleOptions): Promise<CommandResult<S, D>> {
    return withRetries(this.retryOnConflict, () =>
      this.options.transactional ? this.db.transaction((sql) => this.attempt(streamId, decide, opts, sql)) : this.attempt(streamId, decide, opts),
    );
  }

  private async attempt(streamId: string, decide: Decide<S, D>, opts: HandleOptions, sql?: Sql): Promise<CommandResult<S, D>> {
    const { state: before, version } = await this.load(streamId, opts.tenantId, sql);
    const events = await decide(before, version, sql ?? this.db);
    if (events.length === 0 || opts.dryRun) {
      return { before, events, state: events.map(this.fromDecided).reduce(this.options.evolver.evolve, before), version };
    }
    const appended = await this.store.append(streamId, events, { expectedVersion: version, tenantId: opts.tenantId, actor: opts.actor }, sql);
    // The stored envelopes, not the decided events: they carry what the store added (occurredAt).
    const state = appended.envelopes.map(this.toEvent).reduce(this.options.evolver.evolve, before);
    const result = { before, events, state, version: appended.streamVersion };
    if (sql && this.options.project) await this.options.project(sql, opts.tenantId, result);
    return result;
  }
}
