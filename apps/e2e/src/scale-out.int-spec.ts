import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { TEST_SIGNING_KEY, asGateway, eventually, uniqueName } from '@mdm/platform/testing';
import { ProcessStack, RunningProcess, startProcessStack } from '../../../tools/stack/processes';
import { REPLICA_PORT_STEP, stackServices } from '../../../tools/stack/services';
import { CaseTenant, Outcome, Workload, call } from '../../../tools/faults/workload';
import { ApiClient } from './support/api-client';

// Several instances of every service (issue 12, scale-out): the stack as `npm start --replicas 2`
// runs it, each service as two supervised processes sharing its schema and consumer group, the
// gateway balancing across them. One instance of each is killed with SIGKILL under load and kept
// dead: the survivors alone must answer, and every command that was answered 2xx must show.

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A first port such that every service's two instances (port, port + 10) are free. */
async function freePortBase(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = net.createServer().once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 400) * 20;
    const ports = stackServices.flatMap((_, i) => [base + i, base + i + REPLICA_PORT_STEP]);
    if ((await Promise.all(ports.map(free))).every(Boolean)) return base;
  }
}

describe('scale-out: two instances of every service', () => {
  let stack: ProcessStack;
  let schemas: Record<string, string>;
  const operatorToken = `op_${uniqueName('token')}_0123456789abcdef`;

  beforeAll(async () => {
    const base = await freePortBase();
    schemas = Object.fromEntries(stackServices.map((s) => [s.app, uniqueName(s.definition.schema)]));
    stack = await startProcessStack({
      env: {
        ...process.env,
        NODE_ENV: 'test',
        MDM_SERVICES_FROM: 'src',
        LOG_LEVEL: 'info',
        DB_POOL_SIZE: '3',
        MDM_GATEWAY_SIGNING_KEY: TEST_SIGNING_KEY,
        MDM_OPERATOR_TOKEN: operatorToken,
        MDM_CLOCK_SCHEMA: uniqueName('clock'),
        KAFKA_TOPIC_NAMESPACE: uniqueName('scale').replace(/_/g, '-'),
      },
      logDir: mkdtempSync(path.join(tmpdir(), 'mdm-scale-out-')),
      serviceEnv: ({ app, definition }) => ({
        [definition.portVariable]: String(base + stackServices.findIndex((s) => s.app === app)),
        DB_SCHEMA: schemas[app],
        ...(definition.consumes && { KAFKA_CONSUMER_GROUP: uniqueName(app) }),
      }),
      replicas: Object.fromEntries(stackServices.map((s) => [s.app, 2])),
      // A killed instance stays dead for the test: the survivors alone carry the load.
      restartPolicy: { initialDelayMs: 600_000, maxDelayMs: 600_000, stableAfterMs: 600_000, maxRestarts: 1 },
      say: () => undefined,
    });
  }, 300_000);

  afterAll(async () => {
    await stack?.stop();
  }, 120_000);

  const instances = (app: string): RunningProcess[] => stack.services.filter((s) => s.app === app);

  it('R16: a long poll held by one device-sync instance is answered by a notification another instance wrote', async () => {
    const gateway = instances('api-gateway')[0].url;
    const tenant = await newTenant(gateway, operatorToken);
    await tenant.enroll();
    const device = tenant.devices[0];
    const [first, second] = instances('device-sync');
    // The poll waits on the first instance; the remote action is queued through the second.
    const poll = fetch(`${first.url}/device/v1/notifications?waitSeconds=30`, {
      headers: { authorization: `Device ${device.credential}`, ...asGateway('GET', `${first.url}/device/v1/notifications?waitSeconds=30`, { actor: 'device' }) },
    });
    await sleep(1_000);
    const actionPath = `/api/v1/tenants/${tenant.tenantId}/devices/${device.deviceId}/actions`;
    const body = JSON.stringify({ type: 'remoteLock' });
    const queued = await fetch(`${second.url}${actionPath}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...asGateway('POST', `${second.url}${actionPath}`, { actor: 'token:test', tenantId: tenant.tenantId }, body) },
      body,
    });
    expect(queued.status).toBe(202);
    const started = Date.now();
    const answer = await poll;
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { notifications: unknown[] }).notifications.length).toBeGreaterThan(0);
    // Woken, not timed out.
    expect(Date.now() - started).toBeLessThan(25_000);
  }, 60_000);

  it('R4: one instance of every service killed (SIGKILL) under load: the survivors answer, nothing answered 2xx is lost, no 500', async () => {
    // The client goes through the second gateway; the first is one of those killed.
    const gateway = instances('api-gateway')[1].url;
    const tenant = await newTenant(gateway, operatorToken);
    await Promise.all(Array.from({ length: 10 }, () => tenant.enroll()));
    const workload = new Workload(tenant, 4);
    workload.start();
    await sleep(3_000);
    for (const { app } of stackServices) instances(app)[0].supervisor.child.kill('SIGKILL');
    const killedAt = tenant.outcomes.length;
    await sleep(15_000);
    await workload.stop();

    const outcomes = tenant.outcomes;
    const afterKill = outcomes.slice(killedAt);
    // Answers in flight during the kill may be a clean 503 { code }; none is a 500 or malformed.
    expect(outcomes.filter((o) => o.bad || o.dropped)).toEqual([]);
    expect(outcomes.filter((o) => o.status >= 500 && o.status !== 503)).toEqual([]);
    // The survivors carry the load: commands keep succeeding after the kill.
    const okAfter = afterKill.filter((o) => o.status >= 200 && o.status < 300);
    expect(okAfter.length).toBeGreaterThan(10);
    expect(afterKill.slice(-10).filter((o) => o.status >= 500)).toEqual([]);

    // Every 2xx is reflected: enrolled devices listed once, check-ins in device-sync's log and the
    // views' timeline, licenses on their users.
    const ok = outcomes.filter((o) => o.status >= 200 && o.status < 300);
    const admin = new ApiClient(gateway, tenant.adminToken);
    await eventually(
      async () => {
        const listed = await listDevices(admin, tenant.tenantId);
        for (const o of ok.filter((x) => x.kind === 'enroll')) expect(listed.filter((id) => id === o.deviceId)).toHaveLength(1);
        const checkIns = countBy(ok.filter((x) => x.kind === 'checkIn').map((x) => x.deviceId!));
        const logged = await loggedCheckIns(schemas['device-sync']);
        for (const [deviceId, n] of checkIns) {
          expect(logged.get(deviceId) ?? 0).toBeGreaterThanOrEqual(n);
          const detail = await admin.get(`/api/v1/tenants/${tenant.tenantId}/devices/${deviceId}`);
          const timeline = (detail.body?.timeline as { type: string }[]).filter((e) => e.type === 'DeviceCheckedIn');
          expect(timeline).toHaveLength(logged.get(deviceId)!);
        }
        for (const o of ok.filter((x) => x.kind === 'license')) {
          const user = await admin.get(`/api/v1/tenants/${tenant.tenantId}/users/${o.userId}`);
          expect(user.body?.licenses).toContain(o.sku);
        }
      },
      60_000,
      1_000,
    );
    const eventIds = await allEventIds(Object.values(schemas));
    expect(new Set(eventIds).size).toBe(eventIds.length);
  }, 240_000);
});

async function newTenant(gateway: string, operatorToken: string): Promise<CaseTenant> {
  return eventually(
    async () => {
      const o = await call('tenant', `${gateway}/api/v1/tenants`, { method: 'POST', headers: { authorization: `Bearer ${operatorToken}` }, body: { name: 'scale-out' } });
      if (o.status !== 201 || !o.body) throw new Error(`tenant: ${o.status} ${o.code ?? o.bad ?? ''}`);
      const tenant = new CaseTenant(gateway, o.body.tenantId as string, o.body.adminToken as string);
      const set: Outcome = await tenant.setAuthority('office365');
      if (set.status !== 200) throw new Error(`authority: ${set.status} ${set.code ?? ''}`);
      tenant.outcomes.length = 0;
      return tenant;
    },
    60_000,
    500,
  );
}

async function listDevices(admin: ApiClient, tenantId: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await admin.get(`/api/v1/tenants/${tenantId}/devices?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
    ids.push(...(page.body?.items as { deviceId: string }[]).map((d) => d.deviceId));
    cursor = page.body?.nextCursor as string | undefined;
  } while (cursor);
  return ids;
}

function countBy(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

async function withDb<T>(run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

async function loggedCheckIns(schema: string): Promise<Map<string, number>> {
  return withDb(async (client) => {
    const { rows } = await client.query<{ device_id: string; n: string }>(
      `select data->>'deviceId' device_id, count(*) n from "${schema}".es_events where type = 'DeviceCheckedIn' group by 1`,
    );
    return new Map(rows.map((r) => [r.device_id, Number(r.n)]));
  });
}

async function allEventIds(schemas: string[]): Promise<string[]> {
  return withDb(async (client) => {
    const ids: string[] = [];
    for (const schema of schemas) {
      const exists = await client.query(`select 1 from information_schema.tables where table_schema = $1 and table_name = 'es_events'`, [schema]);
      if (exists.rowCount) ids.push(...(await client.query<{ event_id: string }>(`select event_id from "${schema}".es_events`)).rows.map((r) => r.event_id));
    }
    return ids;
  });
}
