import { performance } from 'node:perf_hooks';
import { EventEnvelope, deadLetterTopic } from '@mdm/contracts/core';
import { Database, Sql, sqlMigration } from '@mdm/platform/database';
import { InboxConsumer } from '@mdm/platform/inbox';
import { Kafka, createReliableProducer } from '@mdm/platform/kafka';
import { uniqueName } from '@mdm/platform/testing';
import { benchConfig, logger } from '../config';
import { BenchRecorded, RecordedData, envelope, recordedData200, registryWith, relayMessage } from '../fixtures';
import { benchTopic, chunks, seconds, withSchema, withTopics } from '../infra';
import { BenchResult, result } from '../report';
import { KEYS } from './kafka-produce';

const CONSUME_TIMEOUT_MS = 180_000;
const TARGET = 10_000;

const SinkTable = sqlMigration(
  'BenchSink1764300000001',
  [`create table bench_sink (event_id uuid primary key, stream_id text not null, seq int not null, applied_at timestamptz not null default now())`],
  ['drop table bench_sink'],
);

/** Valid envelopes (~200 B payloads), keyed by stream, produced the way the relay does. */
async function produceEnvelopes(kafka: Kafka, topic: string, count: number): Promise<void> {
  const producer = createReliableProducer(kafka);
  await producer.connect();
  try {
    const messages = Array.from({ length: count }, (_, i) =>
      relayMessage(envelope(BenchRecorded.type, recordedData200(i), `bench-${i % KEYS}`, Math.floor(i / KEYS) + 1)),
    );
    for (const batch of chunks(messages, 5000)) await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: batch }] });
  } finally {
    await producer.disconnect();
  }
}

interface Variant {
  label: string;
  perEvent: boolean;
  /** Left out: the consumer's defaults, as the services run it. */
  partitionsConsumedConcurrently?: number;
  transactionsInFlight?: number;
}

/** One consumer group draining the topic into a fresh schema; timed from joining to the last commit. */
async function consume(kafka: Kafka, topic: string, count: number, variant: Variant) {
  const groupId = uniqueName('bench_inbox');
  return withTopics(
    kafka,
    [deadLetterTopic(groupId)],
    () =>
      withSchema(
        'inbox',
        async (db: Database) => {
          const perTx = new WeakMap<Sql, number>();
          let applied = 0;
          let txMs = 0;
          let finished!: () => void;
          const done = new Promise<void>((resolve) => (finished = resolve));
          // The consumer's own db, counting the events each committed transaction applied.
          const counting = {
            async transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
              const start = performance.now();
              let tx: Sql | undefined;
              const out = await db.transaction((sql) => fn((tx = { query: sql.query })));
              txMs += performance.now() - start;
              applied += perTx.get(tx!) ?? 0;
              if (applied >= count) finished();
              return out;
            },
          };
          const inbox = new InboxConsumer({
            kafka,
            db: counting,
            groupId,
            topics: [topic],
            registry: registryWith(BenchRecorded),
            logger,
            mode: 'batch',
            partitionsConsumedConcurrently: variant.partitionsConsumedConcurrently,
            transactionsInFlight: variant.transactionsInFlight,
            ...(variant.perEvent
              ? {
                  handle: async (event: EventEnvelope, sql: Sql) => {
                    const data = event.data as RecordedData;
                    await sql.query('insert into bench_sink (event_id, stream_id, seq) values ($1, $2, $3)', [event.eventId, event.streamId, data.seq]);
                    perTx.set(sql, (perTx.get(sql) ?? 0) + 1);
                  },
                }
              : {
                  handleBatch: async (events: { event: EventEnvelope }[], sql: Sql) => {
                    await sql.query(
                      'insert into bench_sink (event_id, stream_id, seq) select * from unnest($1::uuid[], $2::text[], $3::int[])',
                      [
                        events.map((e) => e.event.eventId),
                        events.map((e) => e.event.streamId),
                        events.map((e) => (e.event.data as RecordedData).seq),
                      ],
                    );
                    perTx.set(sql, (perTx.get(sql) ?? 0) + events.length);
                  },
                }),
          });
          let timer: NodeJS.Timeout | undefined;
          try {
            await inbox.start();
            const start = performance.now();
            await Promise.race([
              done,
              new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`inbox applied ${applied} of ${count}`)), CONSUME_TIMEOUT_MS))),
            ]);
            const elapsed = seconds(start);
            const [{ n }] = await db.query<{ n: string }>('select count(*)::text n from bench_sink');
            if (Number(n) !== count) throw new Error(`bench_sink has ${n} rows, expected ${count}`);
            return { rate: count / elapsed, txShare: txMs / 1000 / elapsed };
          } finally {
            clearTimeout(timer);
            await inbox.stop();
          }
        },
        { migrations: [SinkTable] },
      ),
    [groupId],
  );
}

/**
 * (e) InboxConsumer in batch mode, one sink row per event in the inbox's transaction: written by a
 * per-event handle() (one INSERT round trip per event) and by a handleBatch() (one multi-row INSERT);
 * both with the consumer's defaults (as the services run it); then handle() one partition and one
 * transaction at a time, as before the defaults batched partitions together (informational).
 */
export async function inboxConsumerScenario(kafka: Kafka): Promise<BenchResult[]> {
  const count = benchConfig.inboxEvents;
  const spec = benchTopic('inbox');
  return withTopics(kafka, [spec], async () => {
    await produceEnvelopes(kafka, spec.topic, count);
    const variants: (Variant & { target?: number })[] = [
      { label: 'handle(): 1 INSERT per event', perEvent: true, target: TARGET },
      { label: 'handleBatch(): 1 multi-row INSERT per batch', perEvent: false, target: TARGET },
      { label: 'handle(), 1 partition and 1 transaction at a time', perEvent: true, partitionsConsumedConcurrently: 1, transactionsInFlight: 1 },
    ];
    const results: BenchResult[] = [];
    for (const v of variants) {
      const { rate, txShare } = await consume(kafka, spec.topic, count, v);
      results.push(
        result('(e) inbox consumer', `batch mode, ${count} events, ${v.label} (tx ${Math.round(txShare * 100)}% of wall)`, rate, 'events/s', {
          target: v.target,
        }),
      );
    }
    return results;
  });
}
