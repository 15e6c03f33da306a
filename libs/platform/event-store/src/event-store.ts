import { randomUUID } from 'node:crypto';
import { DomainEvent, EventEnvelope, EventHeaders, EventRegistry } from '@mdm/contracts/core';
import { Clock } from '@mdm/platform/clock';
import { PgErrorCode, Sql, pgErrorCode } from '@mdm/platform/database';
import { currentContext } from '@mdm/platform/logging';
import { DuplicateEventIdError, VersionConflictError } from './errors';
import { outboxInsert, outboxRoute, outboxTopics, outboxWake } from './outbox-rows';

/** Expected stream version: 0 = the stream must not exist yet; 'any' = no check. */
export type ExpectedVersion = number | 'any';

export interface NewEvent<TType extends string = string, TData = unknown> extends DomainEvent<TType, TData> {
  /** Supplying the id makes a retried append idempotent. */
  eventId?: string;
}

export interface AppendOptions {
  expectedVersion: ExpectedVersion;
  tenantId: string;
  actor: string;
  correlationId?: string;
  causationId?: string | null;
  occurredAt?: Date;
}

/** Streams of one tenant: those whose id starts with one of `prefixes`, and those named in `streams`. */
export interface StreamQuery {
  tenantId: string;
  prefixes?: string[];
  streams?: string[];
}

export interface AppendResult {
  streamVersion: number;
  envelopes: EventEnvelope[];
}

/** A checkpoint in commit order: the last (transaction id, global position) a reader has seen. */
export interface AllCheckpoint {
  transactionId: string;
  globalPosition: string;
}

export const START_OF_ALL: AllCheckpoint = { transactionId: '0', globalPosition: '0' };

interface EventRow {
  event_id: string;
  type: string;
  schema_version: number;
  stream_id: string;
  stream_version: string;
  tenant_id: string;
  occurred_at: Date;
  recorded_at: Date;
  actor: string;
  correlation_id: string;
  causation_id: string | null;
  data: unknown;
  txid?: string;
  pos?: string;
}

/** An envelope's JSON (`row`.payload) with the stream version the append gave its event (`e`). */
const payloadWithVersion = (row: string) => `jsonb_set(${row}.payload, '{streamVersion}', to_jsonb(e.stream_version))`;

export interface EventStoreOptions {
  registry: EventRegistry;
  clock: Clock;
  /** NOTIFY channel the outbox relay listens on. */
  outboxChannel: string;
}

/**
 * A Postgres event store: append with an expected version in one transaction (a conflict is a
 * VersionConflictError), idempotent by event id, events routed to a topic also written to the
 * outbox in the same transaction, upcasting on read.
 */
export class EventStore {
  constructor(
    private readonly db: { transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T>; query: Sql['query'] },
    private readonly options: EventStoreOptions,
  ) {}

  /**
   * Appends as one statement (atomic on its own, one round trip), or inside the caller's
   * transaction when `sql` is given.
   */
  async append(streamId: string, events: NewEvent[], opts: AppendOptions, sql?: Sql): Promise<AppendResult> {
    if (events.length === 0) throw new Error('append needs at least one event');
    const envelopes = this.envelopes(streamId, events, opts);
    return this.write(sql ?? this.db, streamId, envelopes, opts.expectedVersion, sql !== undefined);
  }

  /**
   * Appends one event of one type to each of many streams (expected version 'any') in a single
   * statement, writing what append writes: a fan-out over thousands of streams is one round trip.
   * Streams are taken in id order, the order their rows are locked in, so two such appends over
   * overlapping streams cannot deadlock.
   */
  async appendToEach(
    type: string,
    items: { streamId: string; data: unknown }[],
    opts: Omit<AppendOptions, 'expectedVersion'>,
    sql: Sql,
  ): Promise<number> {
    if (items.length === 0) return 0;
    const def = this.options.registry.get(type);
    if (!def.topic) throw new Error(`${type} is not published; appendToEach writes published events only`);
    // Stream order is lock order: two fan-outs over overlapping streams cannot deadlock each other.
    const sorted = [...items].sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));
    const recordedAt = this.options.clock.now().toISOString();
    const template: Omit<EventEnvelope, 'eventId' | 'streamId' | 'streamVersion' | 'data'> = {
      type,
      schemaVersion: def.schemaVersion,
      tenantId: opts.tenantId,
      occurredAt: opts.occurredAt?.toISOString() ?? recordedAt,
      recordedAt,
      actor: opts.actor,
      correlationId: opts.correlationId ?? currentContext().correlationId ?? randomUUID(),
      causationId: opts.causationId ?? currentContext().causationId ?? null,
    };
    const headers = kafkaHeaders({ ...template, eventId: '', streamId: '', streamVersion: 0, data: null });
    const rows = await sql.query<{ appended: number }>(
      `with input as (
         select * from unnest($1::text[], $2::uuid[], $3::jsonb[]) with ordinality as r(stream_id, event_id, data, n)),
       v as (
         insert into es_streams (stream_id, tenant_id, version, published_version)
         select stream_id, $4, 1, 1 from input order by n
         on conflict (stream_id) do update
           set version = es_streams.version + 1, published_version = es_streams.version + 1, updated_at = now()
           where es_streams.tenant_id = excluded.tenant_id
         returning stream_id, version),
       e as (
         insert into es_events (event_id, stream_id, stream_version, type, schema_version, tenant_id, data, actor,
                                correlation_id, causation_id, occurred_at, recorded_at)
         select i.event_id, i.stream_id, v.version, $5, $6, $4, i.data, $7, $8, $9, $10, $11
           from input i join v using (stream_id)
         returning event_id, stream_id, stream_version, data),
       ${outboxInsert(
         {
           eventId: 'e.event_id',
           topic: 't.topic',
           key: 'e.stream_id',
           payload: `$13::jsonb || jsonb_build_object('eventId', e.event_id, 'streamId', e.stream_id, 'streamVersion', e.stream_version, 'data', e.data)`,
           headers: `$14::jsonb || jsonb_build_object('event-id', e.event_id::text)`,
         },
         `from e cross join ${outboxTopics('$12')}`,
       )}
       select (select count(*)::int from e) as appended, ${outboxWake('$15')}`,
      [
        sorted.map((i) => i.streamId),
        sorted.map(() => randomUUID()),
        sorted.map((i) => JSON.stringify(this.options.registry.validateForWrite(type, i.data))),
        opts.tenantId,
        type,
        def.schemaVersion,
        opts.actor,
        template.correlationId,
        template.causationId,
        template.occurredAt,
        recordedAt,
        outboxRoute(def),
        JSON.stringify(template),
        JSON.stringify(headers),
        this.options.outboxChannel,
      ],
    );
    const appended = rows[0]?.appended ?? 0;
    // A stream id owned by another tenant is skipped by the upsert: refuse the whole batch instead.
    if (appended !== items.length) throw new Error(`${type}: ${items.length - appended} of ${items.length} streams belong to another tenant`);
    return appended;
  }

  /**
   * Appends events to many streams (expected version 'any'), each with its own tenant and actor, in
   * one statement inside the caller's transaction: what a batch of check-ins writes. Streams are
   * locked in id order, as appendToEach does. A stream owned by another tenant refuses the whole call.
   * A stream may be named more than once (its appends, each with its own actor and causation, follow
   * one another in their order): a batch of changes that each record their outcome on one stream.
   */
  async appendToStreams(
    appends: { streamId: string; events: NewEvent[]; opts: Omit<AppendOptions, 'expectedVersion'> }[],
    sql: Sql,
  ): Promise<AppendResult[]> {
    if (appends.some((a) => a.events.length === 0)) throw new Error('appendToStreams needs at least one event per append');
    const perAppend = appends.map((a) => this.envelopes(a.streamId, a.events, { ...a.opts, expectedVersion: 'any' }));
    if (perAppend.length === 0) return [];
    const envelopes = perAppend.flat();
    const topics = envelopes.map((e) => outboxRoute(this.options.registry.get(e.type)));
    // Per stream, over all its appends: the event count, and the 1-based index of its last published event (0: none).
    const streams = new Map<string, { tenantId: string; count: number; lastPublished: number }>();
    envelopes.forEach((e, i) => {
      let stream = streams.get(e.streamId);
      if (!stream) streams.set(e.streamId, (stream = { tenantId: e.tenantId, count: 0, lastPublished: 0 }));
      if (stream.tenantId !== e.tenantId) throw new Error(`appendToStreams: ${e.streamId} named for two tenants`);
      stream.count++;
      if (topics[i] !== null) stream.lastPublished = stream.count;
    });
    const counts = envelopes.map((e) => streams.get(e.streamId)!.count);
    const lastPublished = envelopes.map((e) => streams.get(e.streamId)!.lastPublished);
    let rows: { stream_id: string; version: string }[];
    try {
      rows = await sql.query<{ stream_id: string; version: string }>(
        `with r as (
           select * from unnest($1::text[], $2::uuid[], $3::int[], $4::int[], $5::uuid[], $6::text[], $7::int[], $8::jsonb[],
                                $9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::timestamptz[], $14::text[],
                                $15::jsonb[], $16::jsonb[])
                    with ordinality as r(stream_id, tenant_id, n, last_published, id, type, schema_version, data, actor,
                                         correlation_id, causation_id, occurred_at, recorded_at, topic, payload, headers, ord)),
         k as (select *, row_number() over (partition by stream_id order by ord) as k from r),
         v as (
           insert into es_streams (stream_id, tenant_id, version, published_version)
           select distinct on (stream_id) stream_id, tenant_id, n, last_published from r order by stream_id
           on conflict (stream_id) do update
             set version = es_streams.version + excluded.version, updated_at = now(),
                 published_version = case when excluded.published_version = 0 then es_streams.published_version
                                          else es_streams.version + excluded.published_version end
             where es_streams.tenant_id = excluded.tenant_id
           returning stream_id, version),
         e as (
           insert into es_events (event_id, stream_id, stream_version, type, schema_version, tenant_id, data, actor,
                                  correlation_id, causation_id, occurred_at, recorded_at)
           select k.id, k.stream_id, v.version - k.n + k.k, k.type, k.schema_version, k.tenant_id, k.data, k.actor,
                  k.correlation_id, k.causation_id, k.occurred_at, k.recorded_at
             from k join v using (stream_id)
           returning event_id, stream_version),
         ${outboxInsert(
           { eventId: 'e.event_id', topic: 't.topic', key: 'k.stream_id', payload: payloadWithVersion('k'), headers: 'k.headers' },
           `from e join k on k.id = e.event_id cross join ${outboxTopics('k.topic')} where k.topic is not null order by k.ord`,
         )}
         select stream_id, version::text, ${outboxWake('$17')} from v`,
        [
          envelopes.map((e) => e.streamId),
          envelopes.map((e) => e.tenantId),
          counts,
          lastPublished,
          ...eventColumns(envelopes),
          topics,
          envelopes.map((e, i) => (topics[i] ? JSON.stringify(e) : null)),
          envelopes.map((e) => JSON.stringify(kafkaHeaders(e))),
          this.options.outboxChannel,
        ],
      );
    } catch (err) {
      if (pgErrorCode(err) === PgErrorCode.uniqueViolation) throw new DuplicateEventIdError(envelopes.map((e) => e.eventId));
      throw err;
    }
    if (rows.length !== streams.size) {
      throw new Error(`${streams.size - rows.length} of ${streams.size} streams belong to another tenant`);
    }
    // Each stream's version before this call; its events take the next ones in call order.
    const before = new Map(rows.map((r) => [r.stream_id, Number(r.version) - streams.get(r.stream_id)!.count]));
    return perAppend.map((es) => {
      for (const e of es) before.set(e.streamId, (e.streamVersion = before.get(e.streamId)! + 1));
      return { streamVersion: es[es.length - 1].streamVersion, envelopes: es };
    });
  }

  async readStream(streamId: string, sql?: Sql): Promise<EventEnvelope[]> {
    const rows = await (sql ?? this.db).query<EventRow>(
      `select event_id, type, schema_version, stream_id, stream_version, tenant_id, occurred_at, recorded_at,
              actor, correlation_id, causation_id, data
         from es_events where stream_id = $1 order by stream_version`,
      [streamId],
    );
    return rows.map((r) => this.toEnvelope(r));
  }

  /**
   * The newest version of each of a tenant's streams that reached the outbox (what consumers can
   * see), for streams whose id starts with one of the prefixes. Read-your-writes waits on it.
   */
  async publishedVersions(tenantId: string, prefixes: string[]): Promise<Record<string, number>> {
    return this.publishedVersionsOf([{ tenantId, prefixes }]);
  }

  /**
   * The same for many tenants at once, by prefix or by exact stream id, in one statement: a batch of
   * device calls across tenants asks once. A stream is reported only under its own tenant.
   */
  async publishedVersionsOf(queries: StreamQuery[]): Promise<Record<string, number>> {
    const patterns: [string[], string[]] = [[], []];
    const exact: [string[], string[]] = [[], []];
    for (const q of queries) {
      for (const p of q.prefixes ?? []) {
        patterns[0].push(q.tenantId);
        patterns[1].push(`${p.replace(/[\\%_]/g, '\\$&')}%`);
      }
      for (const id of q.streams ?? []) {
        exact[0].push(q.tenantId);
        exact[1].push(id);
      }
    }
    if (patterns[0].length + exact[0].length === 0) return {};
    const rows = await this.db.query<{ stream_id: string; version: number }>(
      `select s.stream_id, s.published_version::int as version
         from es_streams s join unnest($1::uuid[], $2::text[]) q(tenant_id, pattern)
           on s.tenant_id = q.tenant_id and s.stream_id like q.pattern
        where s.published_version > 0
       union
       select s.stream_id, s.published_version::int
         from es_streams s join unnest($3::uuid[], $4::text[]) x(tenant_id, stream_id)
           on s.stream_id = x.stream_id and s.tenant_id = x.tenant_id
        where s.published_version > 0`,
      [...patterns, ...exact],
    );
    return Object.fromEntries(rows.map((r) => [r.stream_id, r.version]));
  }

  /**
   * Reads every event in commit order. Identity values are taken at insert, not at commit, so a
   * reader walking global_position alone can pass a slow transaction's lower position before it
   * commits and skip it for ever. Reading only transactions older than every one still running
   * (pg_snapshot_xmin) and ordering by (transaction id, position) never skips.
   */
  async readAll(after: AllCheckpoint, limit = 1000): Promise<{ events: EventEnvelope[]; checkpoint: AllCheckpoint }> {
    const rows = await this.db.query<EventRow>(
      `select event_id, type, schema_version, stream_id, stream_version, tenant_id, occurred_at, recorded_at,
              actor, correlation_id, causation_id, data, e.transaction_id::text as txid, e.global_position::text as pos
         from es_events e
        where (e.transaction_id, e.global_position) > ($1::text::xid8, $2::bigint)
          and e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        order by e.transaction_id, e.global_position
        limit $3`,
      [after.transactionId, after.globalPosition, limit],
    );
    const last = rows[rows.length - 1];
    return {
      events: rows.map((r) => this.toEnvelope(r)),
      checkpoint: last ? { transactionId: last.txid!, globalPosition: last.pos! } : after,
    };
  }

  /**
   * The events of one type across every stream and tenant, in the order they were recorded, after a
   * position (0 for the first page): a service's list of its aggregates by their creation event. Each
   * comes with its position, the cursor of the next page.
   */
  async eventsOfType(type: string, afterPosition: number, limit: number): Promise<{ position: number; event: EventEnvelope }[]> {
    const rows = await this.db.query<EventRow>(
      `select event_id, type, schema_version, stream_id, stream_version, tenant_id, occurred_at, recorded_at,
              actor, correlation_id, causation_id, data, global_position::text as pos
         from es_events where type = $1 and global_position > $2 order by global_position limit $3`,
      [type, afterPosition, limit],
    );
    return rows.map((r) => ({ position: Number(r.pos), event: this.toEnvelope(r) }));
  }

  private envelopes(streamId: string, events: NewEvent[], opts: AppendOptions): EventEnvelope[] {
    const recordedAt = this.options.clock.now().toISOString();
    const occurredAt = opts.occurredAt?.toISOString() ?? recordedAt;
    const correlationId = opts.correlationId ?? currentContext().correlationId ?? randomUUID();
    const causationId = opts.causationId !== undefined ? opts.causationId : (currentContext().causationId ?? null);
    return events.map((e) => ({
      eventId: e.eventId ?? randomUUID(),
      type: e.type,
      schemaVersion: this.options.registry.get(e.type).schemaVersion,
      streamId,
      streamVersion: 0, // set once the stream's version is known
      tenantId: opts.tenantId,
      occurredAt,
      recordedAt,
      actor: opts.actor,
      correlationId,
      causationId,
      data: this.options.registry.validateForWrite(e.type, e.data),
    }));
  }

  private async write(sql: Sql, streamId: string, envelopes: EventEnvelope[], expected: ExpectedVersion, inTransaction: boolean) {
    const count = envelopes.length;
    const routed = envelopes.map((e) => outboxRoute(this.options.registry.get(e.type)));
    const publishes = routed.some((t) => t !== null);
    // How many events after the last published one: the stream's published version trails by that much.
    const unpublishedTail = count - 1 - routed.map((t) => t !== null).lastIndexOf(true);
    const params: unknown[] = [
      streamId,
      envelopes[0].tenantId,
      count,
      expected === 'any' ? 0 : expected,
      ...eventColumns(envelopes),
    ];
    // Outbox rows are only built when an event is published: their arrays are the costliest to send.
    if (publishes) {
      params.push(
        routed,
        envelopes.map((e) => JSON.stringify(e)),
        envelopes.map((e) => JSON.stringify(kafkaHeaders(e))),
        this.options.outboxChannel,
        unpublishedTail,
      );
    }
    let rows: { version: number | null }[];
    try {
      rows = await sql.query<{ version: number | null }>(appendStatement(expected, publishes), params);
    } catch (err) {
      if (pgErrorCode(err) !== PgErrorCode.uniqueViolation) throw err;
      // An event id used before: a retry of this very append answers as the first did; inside a
      // caller's transaction (now aborted) it can only be refused.
      if (inTransaction) throw new DuplicateEventIdError(envelopes.map((e) => e.eventId));
      return this.replayOrConflict(sql, streamId, envelopes, expected, true);
    }
    const version = rows[0]?.version;
    if (version === null || version === undefined) return this.replayOrConflict(sql, streamId, envelopes, expected, false);
    const first = version - count + 1;
    envelopes.forEach((e, i) => (e.streamVersion = first + i));
    return { streamVersion: version, envelopes };
  }

  /** A retried append (same event ids, same stream) answers as the first one did; anything else conflicts. */
  private async replayOrConflict(
    sql: Sql,
    streamId: string,
    envelopes: EventEnvelope[],
    expected: ExpectedVersion,
    idsTaken: boolean,
  ): Promise<AppendResult> {
    const ids = envelopes.map((e) => e.eventId);
    const stored = await sql.query<EventRow>(
      `select event_id, type, schema_version, stream_id, stream_version, tenant_id, occurred_at, recorded_at,
              actor, correlation_id, causation_id, data
         from es_events where event_id = any($1::uuid[]) order by stream_version`,
      [ids],
    );
    if (stored.length === ids.length && stored.every((r) => r.stream_id === streamId)) {
      const replayed = stored.map((r) => this.toEnvelope(r));
      return { streamVersion: replayed[replayed.length - 1].streamVersion, envelopes: replayed };
    }
    if (idsTaken) throw new DuplicateEventIdError(ids);
    const [current] = await sql.query<{ version: number }>('select version::int from es_streams where stream_id = $1', [
      streamId,
    ]);
    throw new VersionConflictError(streamId, expected === 'any' ? -1 : expected, current?.version ?? null);
  }

  private toEnvelope(r: EventRow): EventEnvelope {
    const { schemaVersion, data } = this.options.registry.read(r.type, r.schema_version, r.data);
    return {
      eventId: r.event_id,
      type: r.type,
      schemaVersion,
      streamId: r.stream_id,
      streamVersion: Number(r.stream_version),
      tenantId: r.tenant_id,
      occurredAt: r.occurred_at.toISOString(),
      recordedAt: r.recorded_at.toISOString(),
      actor: r.actor,
      correlationId: r.correlation_id,
      causationId: r.causation_id,
      data,
    };
  }
}

/** The es_events columns of the envelopes, one array each, in the order the append statements take them. */
function eventColumns(envelopes: EventEnvelope[]): unknown[][] {
  return [
    envelopes.map((e) => e.eventId),
    envelopes.map((e) => e.type),
    envelopes.map((e) => e.schemaVersion),
    envelopes.map((e) => JSON.stringify(e.data)),
    envelopes.map((e) => e.actor),
    envelopes.map((e) => e.correlationId),
    envelopes.map((e) => e.causationId),
    envelopes.map((e) => e.occurredAt),
    envelopes.map((e) => e.recordedAt),
  ];
}

export function kafkaHeaders(e: EventEnvelope): Record<string, string> {
  return {
    [EventHeaders.eventId]: e.eventId,
    [EventHeaders.type]: e.type,
    [EventHeaders.schemaVersion]: String(e.schemaVersion),
    [EventHeaders.tenantId]: e.tenantId,
    [EventHeaders.correlationId]: e.correlationId,
    ...(e.causationId ? { [EventHeaders.causationId]: e.causationId } : {}),
  };
}

/**
 * The append as one statement: move the stream's version on (only from the expected one), insert
 * the events numbered from it, their outbox rows with the final stream version, and wake the relay.
 * No version back means the expected version did not hold.
 */
function appendStatement(expected: ExpectedVersion, publishes: boolean): string {
  const published = publishes ? '$3::bigint - $18::int' : '0';
  const bump =
    expected === 'any'
      ? `insert into es_streams (stream_id, tenant_id, version, published_version) values ($1, $2, $3, ${published})
           on conflict (stream_id) do update set version = es_streams.version + $3, updated_at = now()
             ${publishes ? ', published_version = es_streams.version + $3 - $18::int' : ''}
           where es_streams.tenant_id = $2 and $4 = 0
         returning version`
      : expected === 0
        ? `insert into es_streams (stream_id, tenant_id, version, published_version) select $1, $2, $3, ${published} where $4 = 0
             on conflict (stream_id) do nothing returning version`
        : `update es_streams set version = version + $3, updated_at = now()
             ${publishes ? ', published_version = version + $3 - $18::int' : ''}
            where stream_id = $1 and version = $4 and tenant_id = $2 returning version`;
  const outbox = publishes
    ? `,
       ${outboxInsert(
         { eventId: 'e.event_id', topic: 't.topic', key: '$1', payload: payloadWithVersion('r'), headers: 'r.headers' },
         `from e join unnest($5::uuid[], $14::text[], $15::jsonb[], $16::jsonb[]) with ordinality as r(id, topic, payload, headers, n)
             on r.id = e.event_id
             cross join ${outboxTopics('r.topic')}
          where r.topic is not null order by r.n`,
       )}`
    : '';
  const notify = publishes ? `, ${outboxWake('$17')}` : '';
  return `with v as (${bump}),
       e as (
         insert into es_events (event_id, stream_id, stream_version, type, schema_version, tenant_id, data, actor,
                                correlation_id, causation_id, occurred_at, recorded_at)
         select r.id, $1, v.version - $3 + r.n, r.type, r.schema_version, $2, r.data, r.actor, r.correlation_id,
                r.causation_id, r.occurred_at, r.recorded_at
           from v cross join unnest($5::uuid[], $6::text[], $7::int[], $8::jsonb[], $9::text[], $10::text[], $11::text[],
                                   $12::timestamptz[], $13::timestamptz[])
                with ordinality as r(id, type, schema_version, data, actor, correlation_id, causation_id, occurred_at, recorded_at, n)
         returning event_id, stream_version)${outbox}
     select (select version::int from v) as version${notify}`;
}
