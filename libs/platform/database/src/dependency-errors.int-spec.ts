import { createServer } from 'node:net';
import { Client } from 'pg';
import { quietKafka } from '@mdm/platform/kafka';
import { Database } from './index';
import { unavailableDependency } from './dependency-errors';

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const failure = async (fn: () => Promise<unknown>): Promise<unknown> => {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
};

/** The errors the real clients throw, told apart: an outage (503) from a bug (500). */
describe('unavailableDependency (outage or bug)', () => {
  const url = () => process.env.DATABASE_URL!;

  it('Postgres not listening: the socket error is an outage', async () => {
    const client = new Client({ host: '127.0.0.1', port: await closedPort(), user: 'postgres' });
    expect(unavailableDependency(await failure(() => client.connect()))).toBe('network');
  });

  it('a session Postgres terminates (as a restart does), seen through TypeORM, is a Postgres outage', async () => {
    const db = new Database({ url: url(), schema: 'public', migrations: [], poolSize: 1, applicationName: 'dependency-errors-spec' });
    await db.connect();
    const [{ pid }] = await db.query<{ pid: number }>('select pg_backend_pid() pid');
    const killer = new Client({ connectionString: url() });
    await killer.connect();
    try {
      await killer.query('select pg_terminate_backend($1)', [pid]);
      const err = await failure(() => db.query('select 1'));
      expect(unavailableDependency(err)).toBe('postgres');
    } finally {
      await killer.end();
      await db.close();
    }
  });

  it('a broker that is not there is a Kafka outage', async () => {
    const kafka = quietKafka({ clientId: 'spec', brokers: [`127.0.0.1:${await closedPort()}`], connectionTimeout: 300, retry: { retries: 1, initialRetryTime: 50 } });
    const admin = kafka.admin();
    expect(unavailableDependency(await failure(() => admin.connect()))).toBe('kafka');
  });

  it('bugs are not outages: an SQL syntax error, a TypeError', async () => {
    const client = new Client({ connectionString: url() });
    await client.connect();
    try {
      expect(unavailableDependency(await failure(() => client.query('selec 1')))).toBeUndefined();
    } finally {
      await client.end();
    }
    expect(unavailableDependency(await failure(async () => (undefined as unknown as { x: number }).x))).toBeUndefined();
  });
});
