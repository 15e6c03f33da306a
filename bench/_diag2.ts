import { Client, Pool } from 'pg';
import { timeBoxed, withSchema } from './infra';
(async () => {
  await withSchema('diag', async (db) => {
    for (const w of [1, 2, 8]) {
      const r = await timeBoxed(w, async () => { await db.query('select 1'); return 1; }, 1500, 200);
      console.log('Database.query select 1 writers', w, r.rate.toFixed(0));
    }
    const clients = await Promise.all(Array.from({ length: 8 }, async () => { const c = new Client(db.clientConfig()); await c.connect(); return c; }));
    for (const w of [1, 2, 8]) {
      const r = await timeBoxed(w, async (i) => { await clients[i].query('select 1'); return 1; }, 1500, 200);
      console.log('raw clients select 1 writers', w, r.rate.toFixed(0));
    }
    const pool = new Pool({ ...db.clientConfig(), max: 10 });
    for (const w of [1, 8]) {
      const r = await timeBoxed(w, async () => { await pool.query('select 1'); return 1; }, 1500, 200);
      console.log('pg Pool select 1 writers', w, r.rate.toFixed(0));
    }
    await pool.end();
    for (const c of clients) await c.end();
  });
})();
