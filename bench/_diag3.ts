import { randomUUID } from 'node:crypto';
import { systemClock } from '@mdm/platform/clock';
import { EventStore } from '@mdm/platform/event-store';
import { BenchRecorded, TENANT_ID, recordedData200, registryWith } from './fixtures';
import { timeBoxed, withSchema } from './infra';
(async () => {
  await withSchema('diag', async (db) => {
    const store = new EventStore(db, { registry: registryWith(BenchRecorded), clock: systemClock, outboxChannel: 'x' });
    const writers = Number(process.env.W ?? 8);
    const streams = Array.from({ length: writers }, (_, w) => ({ id: `s-${w}-${randomUUID()}`, version: 0 }));
    const cpu0 = process.cpuUsage();
    const r = await timeBoxed(writers, async (w) => {
      const s = streams[w];
      s.version = (await store.append(s.id, [{ type: 'BenchRecorded', data: recordedData200(1) }], { expectedVersion: s.version, tenantId: TENANT_ID, actor: 'b' })).streamVersion;
      return 1;
    }, 6000, 0);
    const cpu = process.cpuUsage(cpu0);
    console.log('store writers', writers, r.rate.toFixed(0), 'node cpu %', ((cpu.user + cpu.system) / 1e4 / r.seconds).toFixed(0));
    const waits = await db.query(`select wait_event_type, wait_event, count(*) from pg_stat_activity where datname='mdm_bench' group by 1,2`);
    console.log(waits);
  });
})();
