import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ERROR_STATUS, EventRegistry, defineEvent } from '@mdm/contracts/core';
import { ManualClock } from '@mdm/platform/clock';
import { Database } from '@mdm/platform/database';
import { eventually, testDatabase } from '@mdm/platform/testing';
import { DuplicateEventIdError, VersionConflictError } from './errors';
import { EventStore, START_OF_ALL } from './event-store';

const Counted = defineEvent({ type: 'Counted', topic: 'mdm.test.counted', data: z.object({ n: z.number().int() }).strict() });
const Noted = defineEvent({ type: 'Noted', data: z.object({ text: z.string() }).strict() });
const Renewed = defineEvent({ type: 'Renewed', topic: 'mdm.test.counted', alsoOn: ['mdm.test.renewals'], data: z.object({ n: z.number().int() }).strict() });

describe('event store (Postgres)', () => {
  let db: Database;
  let store: EventStore;
  const clock = new ManualClock(new Date('2026-03-01T10:00:00.000Z'));
  const tenantId = randomUUID();
  const opts = (expectedVersion: number | 'any') => ({ expectedVersion, tenantId, actor: 'test' });

  beforeAll(async () => {
    db = await testDatabase('es');
    store = new EventStore(db, { registry: new EventRegistry([Counted, Noted, Renewed]), clock, outboxChannel: `${db.schema}_outbox` });
  });
  afterAll(() => db.close());

  it('appends with an expected version and reads the stream back as envelopes', async () => {
    const stream = `counter-${randomUUID()}`;
    const first = await store.append(stream, [{ type: 'Counted', data: { n: 1 } }, { type: 'Counted', data: { n: 2 } }], {
      ...opts(0),
      correlationId: 'corr-1',
    });
    expect(first.streamVersion).toBe(2);
    await store.append(stream, [{ type: 'Noted', data: { text: 'x' } }], opts(2));

    const events = await store.readStream(stream);
    expect(events.map((e) => [e.type, e.streamVersion, e.data])).toEqual([
      ['Counted', 1, { n: 1 }],
      ['Counted', 2, { n: 2 }],
      ['Noted', 3, { text: 'x' }],
    ]);
    expect(events[0]).toMatchObject({
      tenantId,
      actor: 'test',
      correlationId: 'corr-1',
      causationId: null,
      schemaVersion: 1,
      recordedAt: '2026-03-01T10:00:00.000Z',
      occurredAt: '2026-03-01T10:00:00.000Z',
    });
  });

  it('refuses a payload that breaks its schema and writes nothing', async () => {
    const stream = `counter-${randomUUID()}`;
    await expect(store.append(stream, [{ type: 'Counted', data: { n: 'one' } }], opts(0))).rejects.toThrow(/invalid Counted/);
    expect(await store.readStream(stream)).toEqual([]);
  });

  it('32 concurrent appends to one stream give exactly one winner per version', async () => {
    const stream = `counter-${randomUUID()}`;
    for (let version = 0; version < 5; version++) {
      const results = await Promise.allSettled(
        Array.from({ length: 32 }, (_, i) => store.append(stream, [{ type: 'Counted', data: { n: i } }], opts(version))),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(31);
      for (const r of lost) expect(r.reason).toBeInstanceOf(VersionConflictError);
    }
    const events = await store.readStream(stream);
    expect(events.map((e) => e.streamVersion)).toEqual([1, 2, 3, 4, 5]);
  });

  it('a conflict is a 409 VERSION_CONFLICT with both versions, and leaves no outbox row', async () => {
    const stream = `counter-${randomUUID()}`;
    await store.append(stream, [{ type: 'Counted', data: { n: 1 } }], opts(0));
    const eventId = randomUUID();
    const err = await store.append(stream, [{ eventId, type: 'Counted', data: { n: 2 } }], opts(0)).catch((e) => e);
    expect(err).toBeInstanceOf(VersionConflictError);
    expect(err).toMatchObject({ code: 'VERSION_CONFLICT', details: { expectedVersion: 0, actualVersion: 1 } });
    expect(ERROR_STATUS[(err as VersionConflictError).code]).toBe(409);
    expect(await db.query('select 1 from outbox where event_id = $1', [eventId])).toEqual([]);
  });

  it('a retried append with the same event ids is idempotent; a reused id in another stream is refused', async () => {
    const stream = `counter-${randomUUID()}`;
    const events = [
      { eventId: randomUUID(), type: 'Counted', data: { n: 1 } },
      { eventId: randomUUID(), type: 'Counted', data: { n: 2 } },
    ];
    const first = await store.append(stream, events, opts(0));
    const retry = await store.append(stream, events, opts(0));
    expect(retry.streamVersion).toBe(2);
    expect(retry.envelopes.map((e) => e.eventId)).toEqual(first.envelopes.map((e) => e.eventId));
    expect(await store.readStream(stream)).toHaveLength(2);

    await expect(store.append(`counter-${randomUUID()}`, [events[0]], opts(0))).rejects.toBeInstanceOf(DuplicateEventIdError);
  });

  it('writes an outbox row for every event routed to a topic, in the same transaction', async () => {
    const stream = `counter-${randomUUID()}`;
    const { envelopes } = await store.append(
      stream,
      [{ type: 'Counted', data: { n: 7 } }, { type: 'Noted', data: { text: 'local only' } }],
      opts(0),
    );
    const rows = await db.query<{ event_id: string; topic: string; message_key: string; payload: { data: unknown } }>(
      'select event_id, topic, message_key, payload from outbox where message_key = $1',
      [stream],
    );
    expect(rows).toEqual([
      { event_id: envelopes[0].eventId, topic: 'mdm.test.counted', message_key: stream, payload: expect.objectContaining({ data: { n: 7 } }) },
    ]);
  });

  it('an event with copies (alsoOn) gets an outbox row on its topic and one on each copy, by every kind of append, and nothing else is copied', async () => {
    const [one, many, each] = [1, 2, 3].map(() => `counter-${randomUUID()}`);
    await store.append(one, [{ type: 'Counted', data: { n: 1 } }, { type: 'Renewed', data: { n: 2 } }], opts(0));
    await db.transaction(async (sql) => {
      await store.appendToStreams([{ streamId: many, events: [{ type: 'Renewed', data: { n: 3 } }, { type: 'Counted', data: { n: 4 } }], opts: { tenantId, actor: 'a' } }], sql);
      await store.appendToEach('Renewed', [{ streamId: each, data: { n: 5 } }], { tenantId, actor: 'fan-out' }, sql);
    });
    const rows = await db.query<{ event_id: string; topic: string; message_key: string; payload: { eventId: string; data: { n: number } } }>(
      'select event_id, topic, message_key, payload from outbox where message_key = any($1::text[]) order by position',
      [[one, many, each]],
    );
    expect(rows.map((r) => [r.message_key, r.topic, r.payload.data.n])).toEqual([
      [one, 'mdm.test.counted', 1],
      [one, 'mdm.test.counted', 2],
      [one, 'mdm.test.renewals', 2],
      [many, 'mdm.test.counted', 3],
      [many, 'mdm.test.renewals', 3],
      [many, 'mdm.test.counted', 4],
      [each, 'mdm.test.counted', 5],
      [each, 'mdm.test.renewals', 5],
    ]);
    // A copy is the same message: same event id and bytes, so a consumer of both topics takes it once.
    for (const r of rows) expect(r.payload.eventId).toBe(r.event_id);
    const copies = rows.filter((r) => r.topic === 'mdm.test.renewals');
    for (const c of copies) expect(rows.find((r) => r !== c && r.event_id === c.event_id)?.payload).toEqual(c.payload);
    // A copy is not another event: each stream's versions and published versions count the event once.
    expect((await store.readStream(many)).map((e) => e.streamVersion)).toEqual([1, 2]);
    expect(await store.publishedVersions(tenantId, [one, many, each])).toMatchObject({ [one]: 2, [many]: 2, [each]: 1 });
  });

  it('appendToEach appends one event to each of many streams in one statement, outbox rows included', async () => {
    const [a, b, c] = [1, 2, 3].map(() => `counter-${randomUUID()}`);
    await store.append(a, [{ type: 'Counted', data: { n: 0 } }], opts(0));
    const appended = await db.transaction((sql) =>
      store.appendToEach('Counted', [a, b, c].map((streamId, n) => ({ streamId, data: { n } })), { tenantId, actor: 'fan-out' }, sql),
    );
    expect(appended).toBe(3);
    expect((await store.readStream(a)).map((e) => [e.streamVersion, e.data])).toEqual([
      [1, { n: 0 }],
      [2, { n: 0 }],
    ]);
    expect((await store.readStream(c)).map((e) => [e.streamVersion, e.data, e.actor])).toEqual([[1, { n: 2 }, 'fan-out']]);
    const outbox = await db.query<{ message_key: string; payload: { streamVersion: number } }>(
      'select message_key, payload from outbox where message_key = any($1::text[]) order by position',
      [[a, b, c]],
    );
    expect(outbox.map((o) => o.payload.streamVersion).sort()).toEqual([1, 1, 1, 2]);
    expect((await store.publishedVersions(tenantId, ['counter-']))[a]).toBe(2);
  });

  it('appendToStreams appends several events to each of many streams in one statement: versions, outbox order, published versions', async () => {
    const other = randomUUID();
    const [a, b, c] = [1, 2, 3].map(() => `counter-${randomUUID()}`);
    await store.append(a, [{ type: 'Counted', data: { n: 0 } }, { type: 'Noted', data: { text: 'kept' } }], opts(0));
    const results = await db.transaction((sql) =>
      store.appendToStreams(
        [
          { streamId: a, events: [{ type: 'Counted', data: { n: 1 } }, { type: 'Noted', data: { text: 'tail' } }], opts: { tenantId, actor: 'x' } },
          { streamId: b, events: [{ type: 'Noted', data: { text: 'local' } }], opts: { tenantId, actor: 'y' } },
          { streamId: c, events: [{ type: 'Counted', data: { n: 2 } }, { type: 'Counted', data: { n: 3 } }], opts: { tenantId: other, actor: 'z' } },
        ],
        sql,
      ),
    );
    expect(results.map((r) => [r.streamVersion, r.envelopes.map((e) => e.streamVersion)])).toEqual([
      [4, [3, 4]],
      [1, [1]],
      [2, [1, 2]],
    ]);
    expect((await store.readStream(a)).map((e) => [e.streamVersion, e.type, e.actor])).toEqual([
      [1, 'Counted', 'test'],
      [2, 'Noted', 'test'],
      [3, 'Counted', 'x'],
      [4, 'Noted', 'x'],
    ]);
    expect((await store.readStream(c)).map((e) => [e.tenantId, e.data])).toEqual([
      [other, { n: 2 }],
      [other, { n: 3 }],
    ]);
    const outbox = await db.query<{ message_key: string; payload: { streamVersion: number; data: unknown } }>(
      'select message_key, payload from outbox where message_key = any($1::text[]) order by position',
      [[a, b, c]],
    );
    expect(outbox.map((o) => [o.message_key, o.payload.streamVersion, o.payload.data])).toEqual([
      [a, 1, { n: 0 }],
      [a, 3, { n: 1 }],
      [c, 1, { n: 2 }],
      [c, 2, { n: 3 }],
    ]);
    expect(await store.publishedVersions(tenantId, [a, b])).toEqual({ [a]: 3 });
    expect(await store.publishedVersions(other, [c])).toEqual({ [c]: 2 });
  });

  it('appendToStreams takes a stream more than once: its appends follow one another in call order, each with its own actor', async () => {
    const [a, b] = [1, 2].map(() => `counter-${randomUUID()}`);
    await store.append(a, [{ type: 'Counted', data: { n: 0 } }], opts(0));
    const results = await db.transaction((sql) =>
      store.appendToStreams(
        [
          { streamId: a, events: [{ type: 'Counted', data: { n: 1 } }], opts: { tenantId, actor: 'x' } },
          { streamId: b, events: [{ type: 'Counted', data: { n: 2 } }], opts: { tenantId, actor: 'y' } },
          { streamId: a, events: [{ type: 'Counted', data: { n: 3 } }, { type: 'Noted', data: { text: 'tail' } }], opts: { tenantId, actor: 'z' } },
        ],
        sql,
      ),
    );
    expect(results.map((r) => [r.streamVersion, r.envelopes.map((e) => e.streamVersion)])).toEqual([
      [2, [2]],
      [1, [1]],
      [4, [3, 4]],
    ]);
    expect((await store.readStream(a)).map((e) => [e.streamVersion, e.data, e.actor])).toEqual([
      [1, { n: 0 }, 'test'],
      [2, { n: 1 }, 'x'],
      [3, { n: 3 }, 'z'],
      [4, { text: 'tail' }, 'z'],
    ]);
    const outbox = await db.query<{ message_key: string; payload: { streamVersion: number } }>(
      'select message_key, payload from outbox where message_key = $1 order by position',
      [a],
    );
    expect(outbox.map((o) => o.payload.streamVersion)).toEqual([1, 2, 3]);
    expect(await store.publishedVersions(tenantId, [a])).toEqual({ [a]: 3 });
    await expect(
      db.transaction((sql) =>
        store.appendToStreams(
          [tenantId, randomUUID()].map((owner) => ({ streamId: b, events: [{ type: 'Counted', data: { n: 4 } }], opts: { tenantId: owner, actor: 'x' } })),
          sql,
        ),
      ),
    ).rejects.toThrow(`${b} named for two tenants`);
  });

  it('appendToStreams refuses the whole call when one stream belongs to another tenant', async () => {
    const [mine, theirs] = [1, 2].map(() => `counter-${randomUUID()}`);
    await store.append(theirs, [{ type: 'Counted', data: { n: 0 } }], { ...opts(0), tenantId: randomUUID() });
    await expect(
      db.transaction((sql) =>
        store.appendToStreams(
          [mine, theirs].map((streamId) => ({ streamId, events: [{ type: 'Counted', data: { n: 1 } }], opts: { tenantId, actor: 'x' } })),
          sql,
        ),
      ),
    ).rejects.toThrow('1 of 2 streams belong to another tenant');
    expect(await store.readStream(mine)).toEqual([]);
    expect(await store.readStream(theirs)).toHaveLength(1);
  });

  it('publishedVersions reports, per stream of a tenant, the newest version that went to the outbox', async () => {
    const other = randomUUID();
    const published = `counter-${randomUUID()}`;
    const localOnly = `counter-${randomUUID()}`;
    await store.append(published, [{ type: 'Counted', data: { n: 1 } }, { type: 'Noted', data: { text: 'tail' } }], opts(0));
    await store.append(published, [{ type: 'Counted', data: { n: 2 } }], opts(2));
    await store.append(published, [{ type: 'Noted', data: { text: 'later' } }], opts(3));
    await store.append(localOnly, [{ type: 'Noted', data: { text: 'x' } }], opts(0));
    await store.append(`counter-${randomUUID()}`, [{ type: 'Counted', data: { n: 1 } }], { ...opts(0), tenantId: other });
    const versions = await store.publishedVersions(tenantId, ['counter-']);
    expect(versions[published]).toBe(3);
    expect(versions[localOnly]).toBeUndefined();
    expect(Object.keys(await store.publishedVersions(other, ['counter-']))).toHaveLength(1);
    expect(await store.publishedVersions(tenantId, ['nothing-'])).toEqual({});
  });

  it('readAll returns events in commit order and never skips a transaction that commits late', async () => {
    const { checkpoint: start } = await drainAll(START_OF_ALL);
    const slowStream = `counter-${randomUUID()}`;
    const fastStream = `counter-${randomUUID()}`;

    let commitSlow!: () => void;
    let slowAppended!: () => void;
    const slowMayCommit = new Promise<void>((r) => (commitSlow = r));
    const slowHasPosition = new Promise<void>((r) => (slowAppended = r));
    const slow = db.transaction(async (sql) => {
      await store.append(slowStream, [{ type: 'Counted', data: { n: 1 } }], opts(0), sql);
      slowAppended();
      await slowMayCommit;
    });
    // The slow transaction holds the lower transaction id and position, uncommitted.
    await slowHasPosition;
    await store.append(fastStream, [{ type: 'Counted', data: { n: 2 } }], opts(0));

    const whileSlowRuns = await store.readAll(start);
    expect(whileSlowRuns.events.map((e) => e.streamId)).not.toContain(fastStream);

    commitSlow();
    await slow;
    // Other transactions anywhere in the cluster also hold readAll back (xids are cluster-wide): keep reading.
    let checkpoint = whileSlowRuns.checkpoint;
    const ours: string[] = [];
    await eventually(async () => {
      const page = await drainAll(checkpoint);
      checkpoint = page.checkpoint;
      ours.push(...page.events.map((e) => e.streamId).filter((s) => s === slowStream || s === fastStream));
      expect(ours).toEqual([slowStream, fastStream]);
    });
  });

  it('readAll pages through many transactions in the order they were appended', async () => {
    const { checkpoint: start } = await drainAll(START_OF_ALL);
    const stream = `counter-${randomUUID()}`;
    for (let n = 1; n <= 25; n++) await store.append(stream, [{ type: 'Counted', data: { n } }], opts(n - 1));
    let checkpoint = start;
    const seen: number[] = [];
    await eventually(async () => {
      for (let page = await store.readAll(checkpoint, 7); page.events.length; page = await store.readAll(checkpoint, 7)) {
        seen.push(...page.events.filter((e) => e.streamId === stream).map((e) => e.streamVersion));
        checkpoint = page.checkpoint;
      }
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    });
  });

  it('upcasts older schema versions on read; stored events are never rewritten', async () => {
    const v1 = defineEvent({ type: 'Renamed', data: z.object({ name: z.string() }).strict() });
    const v2 = defineEvent({
      type: 'Renamed',
      schemaVersion: 2,
      data: z.object({ displayName: z.string(), source: z.string() }).strict(),
      upcasters: { 1: (d) => ({ displayName: (d as { name: string }).name, source: 'v1' }) },
    });
    const stream = `thing-${randomUUID()}`;
    const outboxChannel = `${db.schema}_outbox`;
    await new EventStore(db, { registry: new EventRegistry([v1]), clock, outboxChannel }).append(
      stream,
      [{ type: 'Renamed', data: { name: 'Ada' } }],
      opts(0),
    );
    const [read] = await new EventStore(db, { registry: new EventRegistry([v2]), clock, outboxChannel }).readStream(stream);
    expect(read).toMatchObject({ schemaVersion: 2, data: { displayName: 'Ada', source: 'v1' } });
    const [stored] = await db.query<{ schema_version: number; data: unknown }>(
      'select schema_version, data from es_events where stream_id = $1',
      [stream],
    );
    expect(stored).toEqual({ schema_version: 1, data: { name: 'Ada' } });
  });

  async function drainAll(from: typeof START_OF_ALL) {
    let checkpoint = from;
    const events = [];
    for (;;) {
      const page = await store.readAll(checkpoint, 500);
      events.push(...page.events);
      if (page.events.length === 0) return { events, checkpoint };
      checkpoint = page.checkpoint;
    }
  }
});
