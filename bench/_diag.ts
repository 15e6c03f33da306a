import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { systemClock } from '@mdm/platform/clock';
import { EventStore } from '@mdm/platform/event-store';
import { BenchRecorded, TENANT_ID, recordedData200, registryWith } from './fixtures';
import { timeBoxed, withSchema } from './infra';
(async () => {
  await withSchema('diag', async (db) => {
    const store = new EventStore(db, { registry: registryWith(BenchRecorded), clock: systemClock, outboxChannel: 'x' });
    for (const writers of [1, 2, 8]) {
      const streams = Array.from({ length: writers }, (_, w) => ({ id: `s-${w}-${randomUUID()}`, version: 0 }));
      const r = await timeBoxed(writers, async (w) => {
        const s = streams[w];
        s.version = (await store.append(s.id, [{ type: 'BenchRecorded', data: recordedData200(1) }], { expectedVersion: s.version, tenantId: TENANT_ID, actor: 'b' })).streamVersion;
        return 1;
      }, 2000, 200);
      console.log('store writers', writers, r.rate.toFixed(0));
    }
    // raw: 8 clients, begin/insert/commit
    const c = new Client(db.clientConfig()); await c.connect();
    await c.query('create table t (id uuid primary key, d jsonb)');
    const r1 = await timeBoxed(1, async () => { await c.query('insert into t values ($1, $2)', [randomUUID(), '{}']); return 1; }, 2000, 200);
    console.log('raw single-row autocommit 1 conn', r1.rate.toFixed(0));
    const r2 = await timeBoxed(1, async () => { await c.query('begin'); await c.query('insert into t values ($1, $2)', [randomUUID(), '{}']); await c.query('commit'); return 1; }, 2000, 200);
    console.log('raw begin/insert/commit 1 conn', r2.rate.toFixed(0));
    const r3 = await timeBoxed(8, async () => { await db.transaction(async (sql) => { await sql.query('insert into t values ($1, $2)', [randomUUID(), '{}']); }); return 1; }, 2000, 200);
    console.log('Database.transaction 8 writers 1 insert', r3.rate.toFixed(0));
    const r4 = await timeBoxed(8, async () => { await db.query('select 1'); return 1; }, 2000, 200);
    console.log('Database.query select 1, 8 writers', r4.rate.toFixed(0));
    await c.end();
  });
})();
