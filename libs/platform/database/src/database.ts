import { Client } from 'pg';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
/** The narrow SQL surface the platform needs: rows back from any statement, in or out of a transaction. */
export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
}

export type MigrationClass = new () => MigrationInterface;

export interface DatabaseOptions {
  url: string;
  /** The Postgres schema the service owns; every unqualified table name resolves there. */
  schema: string;
  migrations: MigrationClass[];
  poolSize?: number;
  applicationName?: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A service's own Postgres schema: TypeORM owns connections and migrations; hot paths speak SQL. */
export class Database implements Sql {
  readonly dataSource: DataSource;

  constructor(readonly options: DatabaseOptions) {
    if (!SCHEMA_NAME.test(options.schema)) throw new Error(`invalid schema name ${options.schema}`);
    this.dataSource = new DataSource({
      type: 'postgres',
      url: options.url,
      schema: options.schema,
      migrations: options.migrations,
      migrationsTableName: 'migrations',
      migrationsTransactionMode: 'each',
      synchronize: false,
      logging: false,
      applicationName: options.applicationName,
      extra: { max: options.poolSize ?? 10, options: `-c search_path=${options.schema}` },
    });
  }

  get schema(): string {
    return this.options.schema;
  }

  /** Settings for a raw pg client (LISTEN, session advisory locks) on the same database and schema. */
  clientConfig(): { connectionString: string; options: string; application_name?: string } {
    return {
      connectionString: this.options.url,
      options: `-c search_path=${this.options.schema}`,
      application_name: this.options.applicationName,
    };
  }

  async connect(): Promise<void> {
    if (!this.dataSource.isInitialized) await this.dataSource.initialize();
  }

  /**
   * Creates the schema and applies pending migrations. Replicas starting together serialise on an
   * advisory lock, so each migration runs once.
   */
  async migrate(): Promise<string[]> {
    await this.connect();
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('select pg_advisory_lock(hashtext($1))', [`migrate:${this.schema}`]);
      await runner.query(`create schema if not exists ${this.schema}`);
      const applied = await this.dataSource.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    } finally {
      await runner.query('select pg_advisory_unlock(hashtext($1))', [`migrate:${this.schema}`]).catch(() => undefined);
      await runner.release();
    }
  }

  async query<T = Record<string, unknown>>(text: string, params: readonly unknown[] = []): Promise<T[]> {
    const runner = this.dataSource.createQueryRunner();
    try {
      return await rows<T>(runner, text, params);
    } finally {
      await runner.release();
    }
  }

  /** Runs fn in one transaction; it commits when fn resolves and rolls back when it throws. */
  async transaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    try {
      const result = await fn({ query: (text, params = []) => rows(runner, text, params) });
      await runner.commitTransaction();
      return result;
    } catch (err) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await runner.release();
    }
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

async function rows<T>(runner: QueryRunner, text: string, params: readonly unknown[]): Promise<T[]> {
  const result = await runner.query(text, params as unknown[], true);
  return result.records as T[];
}

/** A migration written as plain SQL statements, applied in order. */
export function sqlMigration(name: string, up: string[], down: string[]): MigrationClass {
  const cls = class implements MigrationInterface {
    name = name;
    async up(runner: QueryRunner) {
      for (const statement of up) await runner.query(statement);
    }
    async down(runner: QueryRunner) {
      for (const statement of down) await runner.query(statement);
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

/** Postgres error codes the platform reacts to. */
export const PgErrorCode = { uniqueViolation: '23505', serializationFailure: '40001', deadlock: '40P01' } as const;

export function pgErrorCode(err: unknown): string | undefined {
  const e = err as { code?: string; driverError?: { code?: string } };
  return e?.driverError?.code ?? e?.code;
}

/** Creates the database named in the URL when it is missing (the server must be up). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await client.query(`create database "${name.replace(/"/g, '""')}"`);
  } catch (err) {
    // Two processes creating it at once: the loser sees a duplicate, which is what it wanted.
    if ((err as { code?: string }).code !== '42P04' && (err as { code?: string }).code !== '23505') throw err;
  } finally {
    await client.end();
  }
}

/** Quotes a Postgres identifier (a channel or schema name) for statements that take no parameters there. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
