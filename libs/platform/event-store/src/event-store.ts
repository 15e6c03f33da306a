import { randomUUID } from 'node:crypto';
import { DomainEvent, EventEnvelope, EventHeaders, EventRegistry } from '@mdm/contracts/core';
import { Clock } from '@mdm/platform/clock';
import { Sql } from '@mdm/platform/database';
import { currentContext } from '@mdm/platform/logging';
import { DuplicateEventIdError, VersionConflictError } from './errors';

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

  /** Appends in its own transaction, or in the caller's when `sql` is a transaction. */
  async append(streamId: string, events: NewEvent[], opts: AppendOptions, sql?: Sql): Promise<AppendResult> {
    if (events.length === 0) throw new Error('append needs at least one event');
    const envelopes = this.envelopes(streamId, events, opts);
    const write = (tx: Sql) => this.write(tx, streamId, envelopes, opts.expectedVersion);
    return sql ? write(sql) : this.db.transaction(write);
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
    const routed = this.options.registry
      .definitions()
      .filter((d) => d.topic)
      .map((d) => d.type);
    const rows = await this.db.query<{ stream_id: string; version: number }>(
      `select stream_id, max(stream_version)::int as version from es_events
        where tenant_id = $1 and stream_id like any($2::text[]) and type = any($3::text[])
        group by stream_id`,
      [tenantId, prefixes.map((p) => `${p.replace(/[\\%_]/g, '\\$&')}%`), routed],
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

  private async write(sql: Sql, streamId: string, envelopes: EventEnvelope[], expected: ExpectedVersion) {
    const count = envelopes.length;
    const tenantId = envelopes[0].tenantId;
    const bumped = await this.bumpVersion(sql, streamId, tenantId, expected, count);
    if (bumped === null) return this.replayOrConflict(sql, streamId, envelopes, expected);
    const first = bumped - count + 1;
    envelopes.forEach((e, i) => (e.streamVersion = first + i));

    const routed = envelopes.map((e) => this.options.registry.get(e.type).topic ?? null);
    const inserted = await sql.query<{ n: string }>(
      `with e as (
         insert into es_events (event_id, stream_id, stream_version, type, schema_version, tenant_id, data, actor,
                                correlation_id, causation_id, occurred_at, recorded_at)
         select * from unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::int[], $6::uuid[], $7::jsonb[],
                              $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[])
         on conflict (event_id) do nothing
         returning 1),
       o as (
         insert into outbox (event_id, topic, message_key, payload, headers)
         select id, topic, $2[1], payload, headers
           from unnest($1::uuid[], $13::text[], $14::jsonb[], $15::jsonb[]) as r(id, topic, payload, headers)
          where topic is not null)
       select count(*)::text as n from e`,
      [
        envelopes.map((e) => e.eventId),
        envelopes.map(() => streamId),
        envelopes.map((e) => e.streamVersion),
        envelopes.map((e) => e.type),
        envelopes.map((e) => e.schemaVersion),
        envelopes.map(() => tenantId),
        envelopes.map((e) => JSON.stringify(e.data)),
        envelopes.map((e) => e.actor),
        envelopes.map((e) => e.correlationId),
        envelopes.map((e) => e.causationId),
        envelopes.map((e) => e.occurredAt),
        envelopes.map((e) => e.recordedAt),
        routed,
        envelopes.map((e) => JSON.stringify(e)),
        envelopes.map((e) => JSON.stringify(kafkaHeaders(e))),
      ],
    );
    if (Number(inserted[0].n) !== count) {
      // The version check passed, so these ids belong to other appends; abort the transaction.
      throw new DuplicateEventIdError(envelopes.map((e) => e.eventId));
    }
    if (routed.some((t) => t !== null)) await sql.query('select pg_notify($1, $2)', [this.options.outboxChannel, '']);
    return { streamVersion: bumped, envelopes };
  }

  /** Moves the stream's version on by count; null when the expected version does not hold. */
  private async bumpVersion(sql: Sql, streamId: string, tenantId: string, expected: ExpectedVersion, count: number) {
    const statement =
      expected === 'any'
        ? `insert into es_streams (stream_id, tenant_id, version) values ($1, $2, $3)
             on conflict (stream_id) do update set version = es_streams.version + $3, updated_at = now()
           returning version::int`
        : expected === 0
          ? `insert into es_streams (stream_id, tenant_id, version) values ($1, $2, $3)
               on conflict (stream_id) do nothing returning version::int`
          : `update es_streams set version = version + $3, updated_at = now()
              where stream_id = $1 and version = $4 and tenant_id = $2 returning version::int`;
    const params = expected === 'any' || expected === 0 ? [streamId, tenantId, count] : [streamId, tenantId, count, expected];
    const [row] = await sql.query<{ version: number }>(`with v as (${statement}) select version from v`, params);
    return row ? row.version : null;
  }

  /** A retried append (same event ids, same stream) answers as the first one did; anything else conflicts. */
  private async replayOrConflict(sql: Sql, streamId: string, envelopes: EventEnvelope[], expected: ExpectedVersion) {
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
