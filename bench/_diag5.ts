import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { recordedData200, TENANT_ID } from './fixtures';
import { timeBoxed, withSchema } from './infra';

const INSERT = `insert into es_events (event_id, stream_id, stream_version, type, schema_version, tenant_id, data, actor,
                                correlation_id, causation_id, occurred_at, recorded_at)
         select * from unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::int[], $6::uuid[], $7::jsonb[],
                              $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[])`;
function params(stream: string, version: number) {
  const now = new Date().toISOString();
  return [[randomUUID()], [stream], [version], ['BenchRecorded'], [1], [TENANT_ID], [JSON.stringify(recordedData200(1))], ['b'], [randomUUID()], [null], [now], [now]];
}
(async () => {
  await withSchema('diag', async (db) => {
    const W = 8;
    const clients = await Promise.all(Array.from({ length: W }, async () => { const c = new Client(db.clientConfig()); await c.connect(); return c; }));
    const streams = Array.from({ length: W }, (_, w) => ({ id: `s-${w}-${randomUUID()}`, version: 0 }));
    for (const s of streams) await db.query(`insert into es_streams values ($1, $2, 0)`, [s.id, TENANT_ID]);
    const r1 = await timeBoxed(W, async (w) => {
      const c = clients[w], s = streams[w];
      await c.query('begin');
      const { rows } = await c.query(`with v as (update es_streams set version = version + 1, updated_at = now() where stream_id = $1 and version = $2 and tenant_id = $3 returning version::int) select version from v`, [s.id, s.version, TENANT_ID]);
      s.version = rows[0].version;
      await c.query(INSERT, params(s.id, s.version));
      await c.query('commit');
      return 1;
    }, 3000, 300);
    console.log('raw pg 4 round trips, 8 conns', r1.rate.toFixed(0));
    const ONE = `with v as (update es_streams set version = version + 1, updated_at = now() where stream_id = $13 and version = $14 and tenant_id = $15 returning version::int),
      e as (${INSERT.replace('select * from unnest', 'select u.* from v cross join unnest')} as u returning 1) select (select version from v) as version, (select count(*) from e)::int as n`;
    const r2 = await timeBoxed(W, async (w) => {
      const c = clients[w], s = streams[w];
      const p = params(s.id, s.version + 1);
      const { rows } = await c.query(ONE, [...p, s.id, s.version, TENANT_ID]);
      s.version = rows[0].version;
      return 1;
    }, 3000, 300);
    console.log('raw pg single statement, 8 conns', r2.rate.toFixed(0));
    const r3 = await timeBoxed(W, async (w) => {
      const s = streams[w];
      const p = params(s.id, s.version + 1);
      const rows = await db.query<{ version: number }>(ONE, [...p, s.id, s.version, TENANT_ID]);
      s.version = rows[0].version;
      return 1;
    }, 3000, 300);
    console.log('Database.query single statement, 8 writers', r3.rate.toFixed(0));
    const r4 = await timeBoxed(W, async (w) => {
      const s = streams[w];
      const p = params(s.id, s.version + 1);
      await db.transaction(async (sql) => {
        const rows = await sql.query<{ version: number }>(ONE, [...p, s.id, s.version, TENANT_ID]);
        s.version = rows[0].version;
      });
      return 1;
    }, 3000, 300);
    console.log('Database.transaction single statement, 8 writers', r4.rate.toFixed(0));
    for (const c of clients) await c.end();
  });
})();
