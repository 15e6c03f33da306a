import { randomUUID } from 'node:crypto';
import { EventDefinition } from '@mdm/contracts/core';
import { systemClock } from '@mdm/platform/clock';
import { Database } from '@mdm/platform/database';
import { EventStore, NewEvent } from '@mdm/platform/event-store';
import { BenchRecorded, TENANT_ID, benchRecordedOn, recordedData200, registryWith } from '../fixtures';
import { benchTopic, connectClients, timeBoxed, withSchema } from '../infra';
import { BenchResult, result } from '../report';
import { PG_BATCH } from './pg-insert';

export const WRITERS = 8;

function storeFor(db: Database, def: EventDefinition): EventStore {
  return new EventStore(db, { registry: registryWith(def), clock: systemClock, outboxChannel: `${db.schema}_outbox` });
}

/** One writer appending 100 events per append to its stream, with the expected version each time. */
async function batchAppends(def: EventDefinition) {
  return withSchema('es_batch', async (db) => {
    const store = storeFor(db, def);
    const stream = `bench-batch-${randomUUID()}`;
    let version = 0;
    let seq = 0;
    return timeBoxed(1, async () => {
      const events: NewEvent[] = Array.from({ length: PG_BATCH }, () => ({ type: def.type, data: recordedData200(seq++) }));
      const { streamVersion } = await store.append(stream, events, { expectedVersion: version, tenantId: TENANT_ID, actor: 'bench' });
      version = streamVersion;
      return PG_BATCH;
    });
  });
}

/** WRITERS concurrent writers, each appending single events to its own stream with expected versions. */
async function singleAppends(def: EventDefinition) {
  return withSchema('es_single', async (db) => {
    const store = storeFor(db, def);
    const streams = Array.from({ length: WRITERS }, (_, w) => ({ id: `bench-single-${w}-${randomUUID()}`, version: 0 }));
    let seq = 0;
    return timeBoxed(WRITERS, async (w) => {
      const s = streams[w];
      const { streamVersion } = await store.append(s.id, [{ type: def.type, data: recordedData200(seq++) }], {
        expectedVersion: s.version,
        tenantId: TENANT_ID,
        actor: 'bench',
      });
      s.version = streamVersion;
      return 1;
    });
  });
}

/**
 * The Postgres ceiling for a single-event append: the same statements the store issues (begin,
 * version bump, event insert, commit) from WRITERS raw pg connections, without node-side work.
 */
async function rawSingleTransactions() {
  return withSchema('es_raw', async (db) => {
    const clients = await connectClients(db, WRITERS);
    try {
      const streams = Array.from({ length: WRITERS }, (_, w) => ({ id: `bench-raw-${w}-${randomUUID()}`, version: 0 }));
      for (const s of streams) await clients[0].query('insert into es_streams (stream_id, tenant_id, version) values ($1, $2, 0)', [s.id, TENANT_ID]);
      return await timeBoxed(WRITERS, async (w) => {
        const c = clients[w];
        const s = streams[w];
        const now = new Date().toISOString();
        await c.query('begin');
        await c.query('update es_streams set version = version + 1, updated_at = now() where stream_id = $1 and version = $2 and tenant_id = $3 returning version::int', [s.id, s.version, TENANT_ID]);
        s.version++;
        await c.query(
          `insert into es_events (event_id, stream_id, stream_version, type, schema_version, tenant_id, data, actor,
                                  correlation_id, causation_id, occurred_at, recorded_at)
           values ($1, $2, $3, $4, 1, $5, $6, 'bench', $7, null, $8, $8)`,
          [randomUUID(), s.id, s.version, BenchRecorded.type, TENANT_ID, JSON.stringify(recordedData200(s.version)), randomUUID(), now],
        );
        await c.query('commit');
        return 1;
      });
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
}

/** (b) EventStore.append, store-only (target) and with a topic, so with outbox rows (informational). */
export async function eventStoreScenario(pgRowsPerSecond: number | undefined): Promise<BenchResult[]> {
  const routed = benchRecordedOn(benchTopic('es').topic); // never published: no relay runs here
  const batch = await batchAppends(BenchRecorded);
  const batchRouted = await batchAppends(routed);
  const single = await singleAppends(BenchRecorded);
  const singleRouted = await singleAppends(routed);
  const raw = await rawSingleTransactions();
  return [
    result('(b) event store', `batch append ${PG_BATCH} events, no topic`, batch.rate, 'events/s', {
      baseline: pgRowsPerSecond,
      target: pgRowsPerSecond === undefined ? undefined : 0.5,
    }),
    result('(b) event store', `batch append ${PG_BATCH} events, with topic (+outbox)`, batchRouted.rate, 'events/s', {
      baseline: pgRowsPerSecond,
    }),
    result('(b) event store', `single-event appends, ${WRITERS} writers, no topic`, single.rate, 'appends/s', { target: 2500 }),
    result('(b) event store', `single-event appends, ${WRITERS} writers, with topic (+outbox)`, singleRouted.rate, 'appends/s'),
    result('(b) event store', `reference: same txn (begin/bump/insert/commit), ${WRITERS} raw pg conns`, raw.rate, 'txn/s'),
  ];
}
