import { randomUUID } from 'node:crypto';
import { EventEnvelope } from '@mdm/contracts/core';
import { Consumption, RunningService, startService } from '@mdm/platform/http';
import { Producer, createReliableProducer } from '@mdm/platform/kafka';
import { IsolatedTopics, asGateway, envelopeFixture, eventually, groupCaughtUp, testEnv, uniqueName } from '@mdm/platform/testing';
import { projectionService } from './projection.definition';
import { ProjectionModule } from './projection.module';
import { DeviceListsApart1765100000000 } from './view-tables';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-03-01T08:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

interface Ids {
  tenant: string;
  user: string;
  moved: string;
  waiting: string;
}

/**
 * One tenant's history, stream by stream: office365, two devices that checked in, the change to Intune,
 * the fan-out that told both to check in, and one of them (moved) checking in under Intune.
 */
function story(ids: Ids): EventEnvelope[][] {
  const { tenant } = ids;
  const stream = (streamId: string, events: { type: string; at: number; data: unknown; schemaVersion?: number }[]) =>
    events.map((e, i) =>
      envelopeFixture({ type: e.type, streamId, tenantId: tenant, streamVersion: i + 1, occurredAt: at(e.at), recordedAt: at(e.at), data: e.data, schemaVersion: e.schemaVersion ?? 1 }),
    );
  const config = (n: number, name: string, type: string, authority: string) => ({ configurationId: `00000000-0000-4000-8000-00000000000${n}`, name, type, authority, version: 1 });
  const mail = config(1, 'Mail', 'email', 'office365');
  const wifi = config(2, 'Office Wi-Fi', 'wifi', 'office365');
  const intuneWifi = config(3, 'Office Wi-Fi', 'wifi', 'intune');
  const state = { osVersion: '17.1', encrypted: true, jailbroken: false, passcodeSet: true };
  const enrolled = (deviceId: string, serial: string) => ({
    deviceId,
    serialNumber: serial,
    platform: 'android',
    enrollmentType: 'user',
    userId: ids.user,
    deviceName: null,
    osVersion: '13',
    androidWorkProfile: false,
    managedBy: 'office365',
    mdmCertificate: { serial: 'AB01', notBefore: at(0), notAfter: at(365 * DAY) },
    credentialHash: 'f'.repeat(64),
  });
  const checkIn = (deviceId: string, managedBy: string, configurations: unknown[], redundant: unknown[], migration: string, when: number) => ({
    deviceId,
    managedBy,
    state,
    configurations,
    redundantConfigurations: redundant,
    compliance: { state: 'compliant', reasons: [], source: managedBy },
    nextCheckInAt: at(when + 8 * HOUR),
    migration,
    migrationSince: migration === 'none' ? null : at(when),
  });
  const change = stream(`tenant-${tenant}`, [
    { type: 'TenantCreated', at: 0, data: { tenantId: tenant, name: 'Contoso' } },
    { type: 'AuthorityChanged', at: 1, data: { from: 'unknown', to: 'office365' } },
    { type: 'AuthorityChanged', at: 2 * DAY, data: { from: 'office365', to: 'intune' } },
  ]);
  return [
    change,
    stream(`device-${ids.moved}`, [{ type: 'DeviceEnrolled', at: HOUR, data: enrolled(ids.moved, `S-${ids.moved}`) }]),
    stream(`device-${ids.waiting}`, [{ type: 'DeviceEnrolled', at: HOUR, data: enrolled(ids.waiting, `S-${ids.waiting}`) }]),
    stream(`devicesync-${ids.moved}`, [
      { type: 'DeviceCheckedIn', schemaVersion: 2, at: DAY, data: checkIn(ids.moved, 'office365', [mail, wifi], [], 'none', DAY) },
      { type: 'DeviceMigrated', at: 2 * DAY + HOUR, data: { deviceId: ids.moved, from: 'office365', to: 'intune' } },
      { type: 'DeviceCheckedIn', schemaVersion: 2, at: 2 * DAY + HOUR, data: checkIn(ids.moved, 'intune', [intuneWifi], [mail], 'migrated', 2 * DAY + HOUR) },
    ]),
    stream(`devicesync-${ids.waiting}`, [
      { type: 'DeviceCheckedIn', schemaVersion: 2, at: DAY, data: checkIn(ids.waiting, 'office365', [mail, wifi], [], 'none', DAY) },
    ]),
    stream(`fanout-${tenant}`, [
      {
        type: 'CheckInsRequested',
        at: 2 * DAY,
        data: {
          reason: 'authorityChanged',
          causeEventId: change[2].eventId,
          to: 'intune',
          legacyProfilesExpireAt: at(9 * DAY),
          devices: [
            { deviceId: ids.moved, afterVersion: 1, nextCheckInAt: at(DAY + 8 * HOUR), target: 'intune' },
            { deviceId: ids.waiting, afterVersion: 1, nextCheckInAt: at(DAY + 8 * HOUR), target: 'intune' },
          ],
        },
      },
    ]),
  ];
}

const newIds = (): Ids => ({ tenant: randomUUID(), user: randomUUID(), moved: randomUUID(), waiting: randomUUID() });

describe('projection service: views from events in any order (R26–R30)', () => {
  const topics = new IsolatedTopics(uniqueName('p').slice(2));
  let projection: RunningService;
  let producer: Producer;

  /** The instance the views are read from (a second one in the scale-out test). */
  let reading: () => RunningService = () => projection;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const get = async (path: string): Promise<{ status: number; body: any }> => {
    const url = new URL(path, reading().url);
    const res = await fetch(url, { headers: asGateway('GET', url) });
    return { status: res.status, body: await res.json() };
  };
  const publish = async (events: EventEnvelope[]) => {
    for (const e of events) {
      const topic = projection.runtime.registry.get(e.type).topic!;
      await producer.send({ topic, acks: -1, messages: [{ key: e.streamId, value: JSON.stringify(e) }] });
    }
  };
  /** The views of a tenant, with the device ids replaced by their role in the story, so two tenants compare. */
  const views = async (ids: Ids) => {
    const t = `/api/v1/tenants/${ids.tenant}`;
    const anonymise = (value: unknown) =>
      JSON.parse(JSON.stringify(value).replaceAll(ids.moved, 'MOVED').replaceAll(ids.waiting, 'WAITING').replaceAll(ids.user, 'USER').replaceAll(ids.tenant, 'TENANT'));
    const strip = ({ lagMs: _lag, ...rest }: Record<string, unknown>) => rest;
    return anonymise({
      overview: strip((await get(`${t}/overview`)).body),
      moved: strip((await get(`${t}/devices/${ids.moved}`)).body),
      waiting: strip((await get(`${t}/devices/${ids.waiting}`)).body),
      // Listed in device id order, and the two tenants' ids are random: compare the items as a set.
      list: (await get(`${t}/devices?limit=500`)).body.items.sort((a: { migration: string }, b: { migration: string }) =>
        a.migration.localeCompare(b.migration),
      ),
      migration: strip((await get(`${t}/reports/migration`)).body),
      redundant: strip((await get(`${t}/reports/redundant-configurations`)).body),
    });
  };
  /** Every message on the topics has been applied (and its offset committed). */
  const caughtUp = () =>
    eventually(async () => {
      const { groupId, topics } = projection.app.get(Consumption);
      expect(await groupCaughtUp(projection.runtime.kafka, groupId, topics)).toBe(true);
    });

  const instanceEnv = { PROJECTION_PORT: '0', DB_SCHEMA: uniqueName('projection'), KAFKA_CONSUMER_GROUP: uniqueName('projection') };

  beforeAll(async () => {
    projection = await startService(topics.definition(projectionService), () => ProjectionModule, testEnv(instanceEnv));
    producer = createReliableProducer(projection.runtime.kafka);
    await producer.connect();
  }, 60_000);

  afterAll(async () => {
    await producer?.disconnect();
    await projection?.close();
  });

  let inOrder: Ids;
  let reversed: Ids;
  let inOrderViews: unknown;

  it('R26/R27: a tenant whose streams arrive one after another shows every device where it stands', async () => {
    inOrder = newIds();
    await publish(story(inOrder).flat());
    await caughtUp();
    const t = `/api/v1/tenants/${inOrder.tenant}`;
    const overview = (await get(`${t}/overview`)).body;
    expect(overview).toEqual({
      authority: 'intune',
      bannerVisible: false,
      devices: {
        total: 2,
        byManagedBy: { intune: 1, office365: 1 },
        byCompliance: { compliant: 2, noncompliant: 0, notEvaluated: 0 },
        byMigration: { migrated: 1, pendingCheckIn: 1, needsSupport: 0, blockedApns: 0, legacyProfilesExpired: 0 },
      },
      expectedByScheduledCheckIn: { count: 1, earliest: at(DAY + 8 * HOUR), latest: at(DAY + 8 * HOUR) },
      asOf: at(2 * DAY + HOUR),
      lagMs: 0,
    });
    const waiting = (await get(`${t}/devices/${inOrder.waiting}`)).body;
    expect(waiting).toMatchObject({
      managedBy: 'office365',
      migration: 'pendingCheckIn',
      legacyConfigurations: {
        items: [
          { name: 'Mail', type: 'email', authority: 'office365', version: 1 },
          { name: 'Office Wi-Fi', type: 'wifi', authority: 'office365', version: 1 },
        ],
        expiresAt: at(9 * DAY),
        expired: false,
      },
      mdmCertificate: { serial: 'AB01', notAfter: at(365 * DAY) },
      removalDueAt: at(545 * DAY),
    });
    expect(waiting.timeline.map((e: { type: string }) => e.type)).toEqual(['DeviceEnrolled', 'DeviceCheckedIn', 'CheckInsRequested']);
    expect(waiting.timeline[0].data).not.toHaveProperty('credentialHash');
    const moved = (await get(`${t}/devices/${inOrder.moved}`)).body;
    expect(moved).toMatchObject({
      managedBy: 'intune',
      migration: 'migrated',
      configurations: [{ name: 'Office Wi-Fi', type: 'wifi', authority: 'intune', version: 1 }],
      redundantConfigurations: [{ name: 'Mail', type: 'email', authority: 'office365', version: 1 }],
      legacyConfigurations: { items: [], expiresAt: null, expired: false },
      nextCheckInAt: at(2 * DAY + 9 * HOUR),
    });
    expect((await get(`${t}/reports/migration`)).body).toMatchObject({
      changedAt: at(2 * DAY),
      from: 'office365',
      to: 'intune',
      points: [
        { at: at(2 * DAY), migrated: 0, pending: 2 },
        { at: at(2 * DAY + HOUR), migrated: 1, pending: 1 },
      ],
    });
    inOrderViews = await views(inOrder);
  }, 60_000);

  it('R27: the same history with its streams in reverse order, each event sent twice, gives the same views', async () => {
    reversed = newIds();
    const streams = story(reversed).reverse();
    await publish(streams.flat());
    await publish(streams.flat());
    await caughtUp();
    expect(await views(reversed)).toEqual(inOrderViews);
  }, 60_000);

  it('R21/R28: device rows kept with their lists inside their docs (before DeviceListsApart) answer the same views once migrated', async () => {
    const { db } = projection.runtime;
    const before = await views(inOrder);
    const [{ live }] = await db.query<{ live: number }>('select live_generation as live from projection_state');
    const devices = `g${live}_devices`;
    const folded = await db.query(
      `update ${devices} set doc = jsonb_set(jsonb_set(doc, '{sync,configurations}', lists->'configurations'), '{sync,redundant}', lists->'redundant'), lists = null
        where tenant_id = $1 returning device_id`,
      [inOrder.tenant],
    );
    expect(folded).toHaveLength(2);
    const runner = db.dataSource.createQueryRunner();
    try {
      await new DeviceListsApart1765100000000().up(runner);
    } finally {
      await runner.release();
    }
    const rows = await db.query<{ inside: boolean; lists: { configurations: unknown[] } }>(
      `select doc->'sync' ? 'configurations' as inside, lists from ${devices} where tenant_id = $1 order by device_id`,
      [inOrder.tenant],
    );
    expect(rows.map((r) => [r.inside, r.lists.configurations.length > 0])).toEqual([
      [false, true],
      [false, true],
    ]);
    expect(await views(inOrder)).toEqual(before);
  }, 60_000);

  it("R27: a tenant's device is not found under another tenant; a cursor the service did not make is a 400", async () => {
    expect((await get(`/api/v1/tenants/${reversed.tenant}/devices/${inOrder.moved}`)).status).toBe(404);
    const bad = await get(`/api/v1/tenants/${inOrder.tenant}/devices?cursor=bm90LWEtY3Vyc29y`);
    expect([bad.status, bad.body.code]).toEqual([400, 'VALIDATION_FAILED']);
  });

  it('R30: a rebuild replays the topics into new tables while the old ones serve, switches, and equals the live views', async () => {
    const before = { inOrder: await views(inOrder), reversed: await views(reversed) };
    const rebuild = new URL('/api/v1/system/projection/rebuild', projection.url);
    const started = await fetch(rebuild, { method: 'POST', headers: asGateway('POST', rebuild, { actor: 'operator' }) });
    expect(started.status).toBe(202);
    expect(await started.json()).toMatchObject({ liveGeneration: 1, rebuild: { generation: 2, status: 'running' } });
    const again = await fetch(rebuild, { method: 'POST', headers: asGateway('POST', rebuild, { actor: 'operator' }) });
    expect([again.status, ((await again.json()) as { code: string }).code]).toEqual([409, 'REBUILD_RUNNING']);
    const status = await eventually(async () => {
      const { body } = await get('/api/v1/system/projection/rebuild');
      expect(body.rebuild.status).toBe('switched');
      return body;
    }, 30_000);
    expect(status).toMatchObject({ liveGeneration: 2, rebuild: { generation: 2, eventsApplied: expect.any(Number) } });
    expect({ inOrder: await views(inOrder), reversed: await views(reversed) }).toEqual(before);
  }, 60_000);

  it('R30, two instances: a rebuild claimed by one is refused by the other; one replays, both switch, and both serve the rebuilt views', async () => {
    const second = await startService(topics.definition(projectionService), () => ProjectionModule, testEnv(instanceEnv));
    try {
      const before = { inOrder: await views(inOrder), reversed: await views(reversed) };
      const live = (await get('/api/v1/system/projection/rebuild')).body.liveGeneration as number;
      const rebuild = (on: RunningService) => {
        const url = new URL('/api/v1/system/projection/rebuild', on.url);
        return fetch(url, { method: 'POST', headers: asGateway('POST', url, { actor: 'operator' }) });
      };
      expect((await rebuild(projection)).status).toBe(202);
      const refused = await rebuild(second);
      expect([refused.status, ((await refused.json()) as { code: string }).code]).toEqual([409, 'REBUILD_RUNNING']);
      reading = () => second;
      await eventually(async () => {
        const { body } = await get('/api/v1/system/projection/rebuild');
        expect([body.liveGeneration, body.rebuild.status]).toEqual([live + 1, 'switched']);
      }, 60_000);
      // Both instances consume the new generation's group, and the second serves the same views.
      const admin = projection.runtime.kafka.admin();
      await admin.connect();
      try {
        await eventually(async () => {
          const [group] = (await admin.describeGroups([`${instanceEnv.KAFKA_CONSUMER_GROUP}.g${live + 1}`])).groups;
          expect(group.members).toHaveLength(2);
        }, 30_000, 250);
      } finally {
        await admin.disconnect();
      }
      expect({ inOrder: await views(inOrder), reversed: await views(reversed) }).toEqual(before);
    } finally {
      reading = () => projection;
      await second.close();
    }
  }, 120_000);
});
