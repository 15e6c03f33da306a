import type { Database, Sql } from './database';

/**
 * A sweep's work in batches of `size` (R15's removals, R23's expiries): each batch is one transaction
 * that first takes the sweep's transaction-scoped advisory lock, so one replica at a time sweeps and
 * another that finds the lock taken leaves the work to it. `batch` does at most `size` items and says
 * how many it did; a short batch is the last.
 */
export async function sweepInBatches(db: Database, name: string, size: number, batch: (sql: Sql) => Promise<number>): Promise<void> {
  for (;;) {
    const done = await db.transaction(async (sql) => {
      const [{ locked }] = await sql.query<{ locked: boolean }>('select pg_try_advisory_xact_lock(hashtext(current_schema() || $1)) locked', [`:${name}`]);
      return locked ? batch(sql) : 0;
    });
    if (done < size) return;
  }
}
