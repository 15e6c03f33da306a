import { performance } from 'node:perf_hooks';
import { Database } from '@mdm/platform/database';
import { Kafka, Producer, createReliableProducer } from '@mdm/platform/kafka';
import { OutboxRelay } from '@mdm/platform/outbox';
import { benchConfig, logger } from '../config';
import { BLOB_1K, BenchPublished, TENANT_ID } from '../fixtures';
import { benchTopic, seconds, withSchema, withTopics } from '../infra';
import { BenchResult, result } from '../report';
import { KEYS, rawProduceRate, rawProduceResult } from './kafka-produce';

const DRAIN_TIMEOUT_MS = 180_000;

/**
 * Pending outbox rows in the shape EventStore.write leaves them: payload = the ~1 KB envelope,
 * headers = kafkaHeaders(envelope), key = the stream id. One INSERT ... SELECT generate_series.
 */
export async function fillOutbox(db: Database, topic: string, rows: number): Promise<void> {
  await db.query(
    `insert into outbox (event_id, topic, message_key, payload, headers)
     select id, $1, stream,
            jsonb_build_object('eventId', id, 'type', $2::text, 'schemaVersion', 1, 'streamId', stream,
                               'streamVersion', g / $5 + 1, 'tenantId', $3::uuid, 'occurredAt', at, 'recordedAt', at,
                               'actor', 'bench', 'correlationId', id::text, 'causationId', null,
                               'data', jsonb_build_object('seq', g, 'blob', $4::text)),
            jsonb_build_object('event-id', id::text, 'event-type', $2::text, 'schema-version', '1',
                               'tenant-id', $3::text, 'correlation-id', id::text)
       from (select gen_random_uuid() as id, g, 'bench-' || (g % $5) as stream,
                    to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at
               from generate_series(0, $6::int - 1) g) s`,
    [topic, BenchPublished.type, TENANT_ID, BLOB_1K, KEYS, rows],
  );
  await db.query('vacuum analyze outbox'); // as autovacuum would have by then
}

interface Drain {
  batchSize: number;
  rows: number;
  rate: number;
  /** Share of the drain spent inside producer.sendBatch (the rest: select, JSON, update, loop). */
  sendShare: number;
}

/** Fills a fresh schema's outbox, starts an OutboxRelay and times it until every row is published. */
async function drain(kafka: Kafka, rows: number, batchSize: number): Promise<Drain> {
  const spec = benchTopic('relay');
  return withTopics(kafka, [spec], () =>
    withSchema('relay', async (db) => {
      await fillOutbox(db, spec.topic, rows);
      const producer = createReliableProducer(kafka);
      await producer.connect();
      let sendMs = 0;
      const timed: Producer = Object.assign(Object.create(producer) as Producer, {
        sendBatch: async (batch: Parameters<Producer['sendBatch']>[0]) => {
          const start = performance.now();
          try {
            return await producer.sendBatch(batch);
          } finally {
            sendMs += performance.now() - start;
          }
        },
      });
      let published = 0;
      let finished!: () => void;
      const done = new Promise<void>((resolve) => (finished = resolve));
      const relay = new OutboxRelay({
        clientConfig: db.clientConfig(),
        schema: db.schema,
        channel: `${db.schema}_outbox`,
        producer: timed,
        logger,
        batchSize,
        onPublished: (n) => {
          published += n;
          if (published >= rows) finished();
        },
      });
      let timer: NodeJS.Timeout | undefined;
      try {
        const start = performance.now();
        relay.start();
        await Promise.race([
          done,
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`relay published ${published} of ${rows}`)), DRAIN_TIMEOUT_MS))),
        ]);
        const elapsed = seconds(start);
        const [{ n }] = await db.query<{ n: string }>('select count(*)::text n from outbox where published_at is null');
        if (Number(n) !== 0) throw new Error(`${n} outbox rows still pending`);
        return { batchSize, rows, rate: rows / elapsed, sendShare: sendMs / 1000 / elapsed };
      } finally {
        clearTimeout(timer);
        await relay.stop();
        await producer.disconnect();
      }
    }),
  );
}

/**
 * (d) OutboxRelay draining pending rows: a short trial per batch size picks the fastest, which
 * then drains the full set, against (c) at that batch size measured again just before.
 */
export async function outboxRelayScenario(kafka: Kafka, rawRates: Map<number, number>): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const trials: Drain[] = [];
  for (const batchSize of benchConfig.relayBatchSizes) {
    const trial = await drain(kafka, benchConfig.sweepRows, batchSize);
    trials.push(trial);
    results.push(
      result('(d) outbox relay', `trial: ${trial.rows} rows, batchSize ${batchSize} (${pct(trial.sendShare)} in sendBatch)`, trial.rate, 'rows/s', {
        baseline: rawRates.get(batchSize),
      }),
    );
  }
  const best = trials.reduce((a, b) => (b.rate > a.rate ? b : a));
  // The baseline is measured again right before the drain, so both see the same machine load.
  const baseline = await rawProduceRate(kafka, best.batchSize, benchConfig.outboxRows);
  results.push(rawProduceResult(best.batchSize, baseline, `, ${benchConfig.outboxRows} msgs (baseline of the drain)`));
  const full = await drain(kafka, benchConfig.outboxRows, best.batchSize);
  results.push(
    result('(d) outbox relay', `drain ${full.rows} rows, batchSize ${best.batchSize} (${pct(full.sendShare)} in sendBatch)`, full.rate, 'rows/s', {
      baseline,
      target: 0.7,
    }),
  );
  return results;
}

function pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}
