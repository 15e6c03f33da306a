import { Sql } from '@mdm/platform/database';

/** Time goes through this port so that rules measured in hours and days can be tested without waiting. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock a unit test sets by hand. */
export class ManualClock implements Clock {
  constructor(private current = new Date('2026-01-01T00:00:00.000Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  set(at: Date): void {
    this.current = new Date(at);
  }
  advance(seconds: number): Date {
    this.current = new Date(this.current.getTime() + seconds * 1000);
    return this.now();
  }
}

/**
 * The one clock every service shares when MDM_TEST_CLOCK=1: an instant kept in Postgres
 * (schema mdm_clock), which stands still until advanced. The gateway advances it and then asks each
 * service to `sync`, so all of them see the same time before their sweeps run.
 */
export class SharedTestClock implements Clock {
  private current: Date | undefined;

  constructor(
    private readonly db: { transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> },
    /** Where the instant is kept; tests give each stack its own so their clocks do not collide. */
    private readonly schema = 'mdm_clock',
  ) {
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid clock schema ${schema}`);
  }

  now(): Date {
    if (!this.current) throw new Error('the shared test clock was used before sync()');
    return new Date(this.current);
  }

  async sync(): Promise<Date> {
    const [row] = await this.db.transaction(async (sql) => {
      await ensureClockTable(sql, this.schema);
      return sql.query<{ now: Date }>(`select now from ${this.schema}.test_clock`);
    });
    this.current = row.now;
    return this.now();
  }

  async advance(seconds: number): Promise<Date> {
    const [row] = await this.db.transaction(async (sql) => {
      await ensureClockTable(sql, this.schema);
      return sql.query<{ now: Date }>(
        `with u as (update ${this.schema}.test_clock set now = now + make_interval(secs => $1) returning now) select now from u`,
        [seconds],
      );
    });
    this.current = row.now;
    return this.now();
  }
}

async function ensureClockTable(sql: Sql, schema: string): Promise<void> {
  // Services start together; the lock keeps their CREATE IF NOT EXISTS from racing in the catalog.
  await sql.query('select pg_advisory_xact_lock(hashtext($1))', [schema]);
  await sql.query(`create schema if not exists ${schema}`);
  await sql.query(
    `create table if not exists ${schema}.test_clock (
       id boolean primary key default true check (id), now timestamptz not null)`,
  );
  await sql.query(`insert into ${schema}.test_clock (now) values (date_trunc('milliseconds', now())) on conflict do nothing`);
}
