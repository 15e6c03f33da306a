import { randomUUID } from 'node:crypto';
import { EventDefinition } from '@mdm/contracts/core';
import { systemClock } from '@mdm/platform/clock';
import { Database } from '@mdm/platform/database';
import { EventStore, NewEvent } from '@mdm/platform/event-store';
import { BenchRecorded, TENANT_ID, benchRecordedOn, recordedData200, registryWith } from '../fixtures';
import { benchTopic, timeBoxed, withSchema } from '../infra';
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

/** (b) EventStore.append, store-only (target) and with a topic, so with outbox rows (informational). */
export async function eventStoreScenario(pgRowsPerSecond: number | undefined): Promise<BenchResult[]> {
  const routed = benchRecordedOn(benchTopic('es').topic); // never published: no relay runs here
  const batch = await batchAppends(BenchRecorded);
  const batchRouted = await batchAppends(routed);
  const single = await singleAppends(BenchRecorded);
  const singleRouted = await singleAppends(routed);
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
  ];
}
