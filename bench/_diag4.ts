import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { systemClock } from '@mdm/platform/clock';
import { Sql } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { BenchRecorded, TENANT_ID, recordedData200, registryWith } from './fixtures';
import { timeBoxed, withSchema } from './infra';
(async () => {
  await withSchema('diag', async (db) => {
    const t: Record<string, [number, number]> = {};
    const add = (k: string, ms: number) => { const e = (t[k] ??= [0, 0]); e[0] += ms; e[1]++; };
    const wrapped = {
      query: db.query.bind(db),
      transaction: async <T>(fn: (sql: Sql) => Promise<T>) => {
        const t0 = performance.now();
        let inner = 0;
        const r = await db.transaction(async (sql) => {
          const t1 = performance.now(); add('begin(+acquire)', t1 - t0);
          const out = await fn({ query: async (text, p) => { const s = performance.now(); try { return await sql.query(text, p); } finally { add(text.trim().slice(0, 22), performance.now() - s); } } });
          inner = performance.now();
          return out;
        });
        add('commit(+release)', performance.now() - inner);
        return r;
      },
    };
    const store = new EventStore(wrapped, { registry: registryWith(BenchRecorded), clock: systemClock, outboxChannel: 'x' });
    const writers = Number(process.env.W ?? 8);
    const streams = Array.from({ length: writers }, (_, w) => ({ id: `s-${w}-${randomUUID()}`, version: 0 }));
    const r = await timeBoxed(writers, async (w) => {
      const s = streams[w];
      s.version = (await store.append(s.id, [{ type: 'BenchRecorded', data: recordedData200(1) }], { expectedVersion: s.version, tenantId: TENANT_ID, actor: 'b' })).streamVersion;
      return 1;
    }, 4000, 0);
    console.log('writers', writers, r.rate.toFixed(0));
    for (const [k, [ms, n]] of Object.entries(t)) console.log(k.padEnd(25), (ms / n).toFixed(2), 'ms avg', n);
  });
})();
