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

  constructor(private readonly db: { transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> }) {}

  now(): Date {
    if (!this.current) throw new Error('the shared test clock was used before sync()');
    return new Date(this.current);
  }

  async sync(): Promise<Date> {
    const [row] = await this.db.transaction(async (sql) => {
      await ensureClockTable(sql);
      return sql.query<{ now: Date }>('select now from mdm_clock.test_clock');
    });
    this.current = row.now;
    return this.now();
  }

  async advance(seconds: number): Promise<Date> {
    const [row] = await this.db.transaction(async (sql) => {
      await ensureClockTable(sql);
      return sql.query<{ now: Date }>(
        `with u as (update mdm_clock.test_clock set now = now + make_interval(secs => $1) returning now) select now from u`,
        [seconds],
      );
    });
    this.current = row.now;
    return this.now();
  }
}

async function ensureClockTable(sql: Sql): Promise<void> {
  // Services start together; the lock keeps their CREATE IF NOT EXISTS from racing in the catalog.
  await sql.query(`select pg_advisory_xact_lock(hashtext('mdm_clock'))`);
  await sql.query('create schema if not exists mdm_clock');
  await sql.query(
    `create table if not exists mdm_clock.test_clock (
       id boolean primary key default true check (id), now timestamptz not null)`,
  );
  await sql.query(`insert into mdm_clock.test_clock (now) values (date_trunc('milliseconds', now())) on conflict do nothing`);
}
