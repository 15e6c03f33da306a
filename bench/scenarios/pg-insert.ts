import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { sqlMigration } from '@mdm/platform/database';
import { recordedData200 } from '../fixtures';
import { timeBoxed, withSchema } from '../infra';
import { BenchResult, result } from '../report';

export const PG_BATCH = 100;

/** A plain table shaped like an event row (uuid key, text, ~200 B jsonb, timestamptz). */
const RawEventsTable = sqlMigration(
  'BenchRawEvents1764300000000',
  [
    `create table raw_events (
       event_id    uuid primary key,
       stream_id   text not null,
       type        text not null,
       data        jsonb not null,
       recorded_at timestamptz not null)`,
  ],
  ['drop table raw_events'],
);

const VALUES = Array.from({ length: PG_BATCH }, (_, i) => {
  const p = i * 5;
  return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5})`;
}).join(', ');

/**
 * (a) One pg connection, one multi-row INSERT of 100 rows per statement (its own implicit
 * transaction, so one commit per batch, as an append is): the ceiling for (b).
 */
export async function pgInsertScenario(): Promise<{ results: BenchResult[]; rowsPerSecond: number }> {
  return withSchema(
    'pg',
    async (db) => {
      const client = new Client(db.clientConfig());
      await client.connect();
      try {
        let seq = 0;
        const { rate, units } = await timeBoxed(1, async () => {
          const params: unknown[] = [];
          const recordedAt = new Date().toISOString();
          for (let i = 0; i < PG_BATCH; i++) {
            const data = recordedData200(seq++);
            params.push(randomUUID(), `bench-${seq % 100}`, 'BenchRecorded', JSON.stringify(data), recordedAt);
          }
          await client.query(`insert into raw_events (event_id, stream_id, type, data, recorded_at) values ${VALUES}`, params);
          return PG_BATCH;
        });
        return {
          rowsPerSecond: rate,
          results: [result('(a) raw pg insert', `multi-row INSERT, ${PG_BATCH} rows/stmt, 1 conn (${units} rows)`, rate, 'rows/s')],
        };
      } finally {
        await client.end();
      }
    },
    { migrations: [RawEventsTable] },
  );
}
