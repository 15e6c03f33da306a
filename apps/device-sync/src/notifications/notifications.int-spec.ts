import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestApplication, INestMicroservice } from '@nestjs/common';
import { AuthorityChanged, TenantAuthority, tenantStreamId } from '@mdm/contracts/authority';
import { EventEnvelope, EventRegistry, Topics, eventEnvelopeSchema } from '@mdm/contracts/core';
import { deviceNotificationSchema, deviceSyncEvents, fanOutStreamId, syncStreamId } from '@mdm/contracts/device-sync';
import { DeviceRemoved, deviceStreamId } from '@mdm/contracts/enrollment';
import { EffectiveAuthority, UserAuthorityChanged, userStreamId } from '@mdm/contracts/licensing';
import { ManualClock } from '@mdm/platform/clock';
import { Database, Sql } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { ApiExceptionFilter, CLOCK, SERVICE_CONFIG } from '@mdm/platform/http';
import { createLogger } from '@mdm/platform/logging';
import { CallSigner } from '@mdm/platform/http-client';
import { TEST_SIGNING_KEY, eventFixture, eventually, testDatabase } from '@mdm/platform/testing';
import { InboxEventTransport, InboxTransportOptions, ReadYourWrites } from '@mdm/platform/inbox';
import { DeviceAuth, DeviceStateOwners } from '../device-auth';
import { deviceSyncService } from '../device-sync.definition';
import { FactsConsumer } from '../facts.consumer';
import { MdmSignatureGuard } from '../mdm-signature';
import { FanOutPort, NotificationReason } from '../ports';
import { outboxChannel } from '@mdm/platform/event-store';
import { notificationChannel } from './channels';
import { CheckInFanOutService } from './check-in-fan-out.service';
import { LongPollHub } from './long-poll-hub';
import { NotificationsController } from './notifications.controller';
import { NotifierService } from './notifier.service';

const logger = createLogger('device-sync-test', 'silent');
const NOTIFICATIONS = Topics.deviceNotifications.topic;

/** Counts the statements a piece of work completed (the scale tests bound them). */
function counting(sql: Sql): { statements: number; sql: Sql } {
  const counter: { statements: number; sql: Sql } = {
    statements: 0,
    sql: {
      query: async <T>(text: string, params?: readonly unknown[]) => {
        const rows = await sql.query<T>(text, params);
        counter.statements++;
        return rows;
      },
    },
  };
  return counter;
}

describe('device-sync notifications (Postgres, LISTEN/NOTIFY)', () => {
  let db: Database;
  let store: EventStore;
  let notifier: NotifierService;
  let fanOut: CheckInFanOutService;
  /** The inbox transport with FactsConsumer's handlers, wired by Nest from their decorators (never started: no broker). */
  let inbox: InboxEventTransport;
  let inboxApp: INestMicroservice;
  const clock = new ManualClock(new Date('2026-04-01T08:00:00.000Z'));
  const hubs: LongPollHub[] = [];

  const newHub = async (name = `hub-${randomUUID().slice(0, 8)}`, pool: Sql = db) => {
    const hub = new LongPollHub({
      db: pool,
      clientConfig: { ...db.clientConfig(), application_name: name },
      channel: notificationChannel(db.schema),
      clock,
      logger,
      reconnectDelayMs: 50,
    });
    hubs.push(hub);
    await hub.start();
    return hub;
  };

  beforeAll(async () => {
    db = await testDatabase('ds', deviceSyncService.migrations);
    const registry = new EventRegistry(deviceSyncEvents);
    store = new EventStore(db, { registry, clock, outboxChannel: outboxChannel(db.schema) });
    notifier = new NotifierService({ clock, schema: db.schema, topic: NOTIFICATIONS });
    fanOut = new CheckInFanOutService(store, notifier);
    inbox = new InboxEventTransport({} as InboxTransportOptions);
    class FactsModule {}
    Module({
      controllers: [FactsConsumer],
      providers: [
        { provide: FanOutPort, useValue: fanOut },
        { provide: SERVICE_CONFIG, useValue: { CHECK_IN_INTERVAL_HOURS: 8, schema: db.schema } },
      ],
    })(FactsModule);
    inboxApp = await NestFactory.createMicroservice(FactsModule, { strategy: inbox, logger: false });
    await inboxApp.init();
  });
  afterAll(async () => {
    await inboxApp.close();
    await Promise.all(hubs.map((h) => h.stop()));
    await db.close();
  });

  /** Active devices of a tenant: `users` with a user each (or all of `userId`), `userless` without. */
  async function seed(tenantId: string, { users = 0, userless = 0, userId }: { users?: number; userless?: number; userId?: string }) {
    const rows = await db.query<{ device_id: string; user_id: string | null }>(
      `insert into devices (device_id, tenant_id, user_id, platform, credential_hash, status, managed_by, certificate_serial, certificate_not_after)
       select gen_random_uuid(), $1, case when i <= $2::int then coalesce($4::uuid, gen_random_uuid()) end, 'ios',
              md5(random()::text || i), 'active', 'office365', 'AA', now() + interval '1 year'
         from generate_series(1, $2::int + $3::int) i
       returning device_id, user_id`,
      [tenantId, users, userless, userId ?? null],
    );
    return { withUser: rows.filter((r) => r.user_id).map((r) => r.device_id), userless: rows.filter((r) => !r.user_id).map((r) => r.device_id) };
  }

  const authorityChanged = (tenantId: string, from: TenantAuthority, to: TenantAuthority) =>
    eventFixture(AuthorityChanged, { streamId: tenantStreamId(tenantId), tenantId, actor: 'token:admin', data: { from, to } });

  const devicesIn = (tenantId: string) =>
    db.query<{ device_id: string; migration_state: string; migration_changed_at: Date | null }>(
      'select device_id, migration_state, migration_changed_at from devices where tenant_id = $1',
      [tenantId],
    );

  const notify = (deviceId: string, tenantId: string, reason: NotificationReason = 'sync') =>
    db.transaction((sql) => notifier.notify(sql, [{ deviceId, tenantId }], reason));

  it('R16: an authority change notifies every active device with a user, marks it pendingCheckIn and queues its message on mdm.device.notifications (key = device id)', async () => {
    const tenantId = randomUUID();
    const { withUser, userless } = await seed(tenantId, { users: 3, userless: 1 });
    const [gone] = (await seed(tenantId, { users: 1 })).withUser;
    await db.query(`update devices set status = 'unenrolled' where device_id = $1`, [gone]);
    const event = authorityChanged(tenantId, 'office365', 'intune');

    await db.transaction((sql) => fanOut.tenantChanged(sql, event));

    const states = Object.fromEntries((await devicesIn(tenantId)).map((d) => [d.device_id, d.migration_state]));
    for (const id of withUser) expect(states[id]).toBe('pendingCheckIn');
    expect(states[gone]).toBe('none');
    expect(states[userless[0]]).toBe('needsSupport');
    const [changed] = await db.query<{ at: Date }>('select migration_changed_at at from devices where device_id = $1', [withUser[0]]);
    expect(changed.at.toISOString()).toBe(event.occurredAt);

    const rows = await db.query<{ notification_id: string; device_id: string; reason: string; created_at: Date; delivered_at: Date | null }>(
      'select notification_id, device_id, reason, created_at, delivered_at from notifications where tenant_id = $1',
      [tenantId],
    );
    expect(rows.map((r) => r.device_id).sort()).toEqual([...withUser].sort());
    for (const r of rows) expect(r).toMatchObject({ reason: 'authorityChanged', created_at: clock.now(), delivered_at: null });

    const outbox = await db.query<{ event_id: string; message_key: string; payload: unknown; headers: unknown }>(
      'select event_id, message_key, payload, headers from outbox where topic = $1 and message_key = any($2::text[])',
      [NOTIFICATIONS, withUser],
    );
    expect(outbox).toHaveLength(3);
    for (const o of outbox) {
      const row = rows.find((r) => r.notification_id === o.event_id)!;
      expect(deviceNotificationSchema.strict().parse(o.payload)).toEqual({
        notificationId: row.notification_id,
        deviceId: row.device_id,
        tenantId,
        reason: 'authorityChanged',
        createdAt: clock.now().toISOString(),
      });
      expect(o.message_key).toBe(row.device_id);
      expect(o.headers).toEqual({});
    }

    const [requests, fan] = await store.readStream(fanOutStreamId(tenantId));
    // The projection learns which devices were marked, each after which of its own events (none yet).
    expect(requests).toMatchObject({
      type: 'CheckInsRequested',
      data: { reason: 'authorityChanged', causeEventId: event.eventId, to: 'intune', legacyProfilesExpireAt: new Date(Date.parse(event.occurredAt) + 7 * 86_400_000).toISOString() },
    });
    const marked = (requests.data as { devices: { deviceId: string; afterVersion: number }[] }).devices;
    expect(marked.map((d) => [d.deviceId, d.afterVersion]).sort()).toEqual(withUser.map((id) => [id, 0]).sort());
    expect(fan).toMatchObject({
      type: 'CheckInFanOut',
      causationId: event.eventId,
      actor: 'token:admin',
      data: { reason: 'authorityChanged', causeEventId: event.eventId, userId: null, from: 'office365', to: 'intune', devicesNotified: 3, devicesNeedingSupport: 1 },
    });
  });

  it('R17: userless devices are not migrated: needsSupport and DeviceMigrationBlocked { reason: userless } on their own stream', async () => {
    const tenantId = randomUUID();
    const { userless } = await seed(tenantId, { users: 1, userless: 3 });
    const first = authorityChanged(tenantId, 'office365', 'intune');
    await db.transaction((sql) => fanOut.tenantChanged(sql, first));
    const second = authorityChanged(tenantId, 'intune', 'coexistence');
    await db.transaction((sql) => fanOut.tenantChanged(sql, second));

    const states = await devicesIn(tenantId);
    for (const id of userless) expect(states.find((d) => d.device_id === id)!.migration_state).toBe('needsSupport');
    expect(await db.query('select 1 from notifications where device_id = any($1::uuid[])', [userless])).toEqual([]);

    for (const deviceId of userless) {
      const events = await store.readStream(syncStreamId(deviceId));
      expect(events.map((e) => [e.type, e.streamVersion, e.causationId, e.data])).toEqual([
        ['DeviceMigrationBlocked', 1, first.eventId, { deviceId, reason: 'userless', authority: null }],
        ['DeviceMigrationBlocked', 2, second.eventId, { deviceId, reason: 'userless', authority: null }],
      ]);
      expect(events[0]).toMatchObject({ tenantId, actor: 'token:admin', correlationId: first.correlationId });
      // What the relay publishes is the full envelope, as EventStore.append writes it.
      const outbox = await db.query<{ payload: unknown; headers: Record<string, string> }>(
        'select payload, headers from outbox where message_key = $1 order by position',
        [syncStreamId(deviceId)],
      );
      expect(outbox.map((o) => eventEnvelopeSchema.parse(o.payload))).toEqual(events);
      expect(outbox[0].headers).toMatchObject({ 'event-id': events[0].eventId, 'event-type': 'DeviceMigrationBlocked', 'tenant-id': tenantId });
    }
    const [{ published }] = await db.query<{ published: number }>('select published_version::int published from es_streams where stream_id = $1', [
      syncStreamId(userless[0]),
    ]);
    expect(published).toBe(2);
    const fans = (await store.readStream(fanOutStreamId(tenantId))).filter((e) => e.type === 'CheckInFanOut');
    expect(fans.map((e) => (e.data as { devicesNeedingSupport: number }).devicesNeedingSupport)).toEqual([3, 3]);
  });

  /** Events applied in one transaction by the inbox transport's dispatch, as a Kafka batch is; the statements it ran are counted. */
  const applyAsTheInbox = (events: EventEnvelope[]) =>
    db.transaction(async (tx) => {
      const counter = counting(tx);
      const delivery = { topic: 't', partition: 0, offset: '0' };
      await inbox['dispatch'](events.map((event) => ({ event, delivery })), counter.sql);
      return counter.statements;
    });

  /** Fresh ids that sort after, and before, every random one. */
  const unique = (id: string) => id.replace(/^(.{9})0000/, `$1${randomUUID().slice(9, 13)}`);
  const highestId = () => unique('ffffffff-0000-4000-8000-000000000000');
  const lowestId = () => unique('00000000-0000-4000-8000-000000000000');

  it.each([
    ['one tenant', 'one authority change'],
    ['two tenants', 'both authority changes'],
    ['two tenants', "one's authority change, then a user change in the other"],
    ['two tenants', "one's authority change, then a device of the other removed"],
  ])(
    "R16: a fan-out's transaction (%s, %s) takes its devices in id order, as a check-in batch does: the two wait for each other, never in a cycle",
    async (tenants, changes) => {
      const [first, second] = tenants === 'one tenant' ? [randomUUID(), undefined] : [randomUUID(), randomUUID()];
      // The higher id first on disk, in the first tenant, and with the lower user id, so that a scan in
      // storage order, along the tenant's (tenant, user) index, or tenant by tenant meets it first.
      const [high, low] = [highestId(), lowestId()];
      const [lowUser, highUser] = [lowestId(), highestId()];
      const placed = [
        { deviceId: high, tenantId: first, userId: lowUser },
        { deviceId: low, tenantId: second ?? first, userId: highUser },
      ];
      for (const d of placed) {
        await db.query(
          `insert into devices (device_id, tenant_id, user_id, platform, credential_hash, status, managed_by, certificate_serial, certificate_not_after)
           values ($1, $2, $3, 'ios', md5(random()::text), 'active', 'office365', 'AA', now() + interval '1 year')`,
          [d.deviceId, d.tenantId, d.userId],
        );
      }
      const events: EventEnvelope[] = [authorityChanged(first, 'office365', 'intune')];
      if (changes === 'both authority changes') events.push(authorityChanged(second!, 'office365', 'intune'));
      if (changes.includes('user change')) {
        events.push(eventFixture(UserAuthorityChanged, { streamId: userStreamId(highUser), tenantId: second!, data: { userId: highUser, from: 'office365', to: 'intune', warnings: [] } }));
      }
      const removed = changes.includes('removed');
      if (removed) events.push(eventFixture(DeviceRemoved, { streamId: deviceStreamId(low), tenantId: second!, data: { deviceId: low, reason: 'mdm-certificate-expired' } }));
      const waitingForALock = async () => {
        const [{ n }] = await db.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%devices%'`,
        );
        expect(n).toBeGreaterThan(0);
      };
      // A check-in batch of both devices, in the order it locks them: the lower id, then (once the fan-out waits) the higher.
      let lowLocked!: () => void;
      const lockedLow = new Promise<void>((r) => (lowLocked = r));
      const checkIn = db.transaction(async (sql) => {
        await sql.query('select 1 from devices where device_id = $1 for update', [low]);
        lowLocked();
        await eventually(waitingForALock);
        await sql.query('select 1 from devices where device_id = $1 for update', [high]);
      });
      await lockedLow;
      const fanOutDone = applyAsTheInbox(events);
      // Neither is refused (a deadlock would refuse one of them), and the events did what they say to both devices.
      expect((await Promise.allSettled([checkIn, fanOutDone])).map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
      const rows = await db.query<{ device_id: string; status: string; migration_state: string }>(
        'select device_id, status, migration_state from devices where device_id = any($1::uuid[])',
        [[high, low]],
      );
      expect(Object.fromEntries(rows.map((d) => [d.device_id, `${d.status} ${d.migration_state}`]))).toEqual({
        [high]: 'active pendingCheckIn',
        [low]: removed ? 'removed none' : 'active pendingCheckIn',
      });
    },
  );

  it('R16: a user authority change notifies every active device of that user, and only those', async () => {
    const tenantId = randomUUID();
    const userId = randomUUID();
    const mine = (await seed(tenantId, { users: 2, userId })).withUser;
    const others = (await seed(tenantId, { users: 2, userless: 1 })).withUser;
    const event = eventFixture(UserAuthorityChanged, { streamId: userStreamId(userId), tenantId, data: { userId, from: 'office365', to: 'intune', warnings: [] } });

    await db.transaction((sql) => fanOut.usersChanged(sql, [event]));

    const states = Object.fromEntries((await devicesIn(tenantId)).map((d) => [d.device_id, d.migration_state]));
    expect(mine.map((id) => states[id])).toEqual(['pendingCheckIn', 'pendingCheckIn']);
    expect(others.map((id) => states[id])).toEqual(['none', 'none']);
    const rows = await db.query<{ device_id: string; reason: string }>('select device_id, reason from notifications where tenant_id = $1', [tenantId]);
    expect(rows.map((r) => r.device_id).sort()).toEqual([...mine].sort());
    expect(new Set(rows.map((r) => r.reason))).toEqual(new Set(['userAuthorityChanged']));
    const [requests, fan] = await store.readStream(fanOutStreamId(tenantId));
    expect((requests.data as { devices: { deviceId: string }[] }).devices.map((d) => d.deviceId).sort()).toEqual([...mine].sort());
    expect(fan.data).toMatchObject({ reason: 'userAuthorityChanged', userId, devicesNotified: 2, devicesNeedingSupport: 0 });
  });

  it('R9/R16: a user change that is licensing\'s answer to the tenant\'s authority change tells only the devices that change\'s fan-out did not: not one waiting for its check-in, nor one moved already', async () => {
    const tenantId = randomUUID();
    const userId = randomUUID();
    const [waiting, moved] = (await seed(tenantId, { users: 2, userId })).withUser;
    const change = authorityChanged(tenantId, 'office365', 'intune');
    // As the facts consumer applies it: the tenant row, then the fan-out, in one transaction.
    await db.transaction(async (sql) => {
      await sql.query('insert into tenants (tenant_id, authority, authority_event_id) values ($1, $2, $3)', [tenantId, 'intune', change.eventId]);
      await fanOut.tenantChanged(sql, change);
    });
    // One device checked in since (moved); one enrolled under the old authority arrived after the fan-out.
    await db.query(`update devices set managed_by = 'intune', migration_state = 'migrated' where device_id = $1`, [moved]);
    const [late] = (await seed(tenantId, { users: 1, userId })).withUser;
    const userChange = (causationId: string) =>
      eventFixture(UserAuthorityChanged, { streamId: userStreamId(userId), tenantId, causationId, data: { userId, from: 'office365', to: 'intune', warnings: [] } });
    const toldFor = async (reason: string) =>
      (await db.query<{ device_id: string }>('select device_id from notifications where tenant_id = $1 and reason = $2', [tenantId, reason])).map((r) => r.device_id).sort();
    const states = async () => Object.fromEntries((await devicesIn(tenantId)).map((d) => [d.device_id, d.migration_state]));

    await db.transaction((sql) => fanOut.usersChanged(sql, [userChange(change.eventId)]));
    expect(await toldFor('authorityChanged')).toEqual([waiting, moved].sort());
    expect(await toldFor('userAuthorityChanged')).toEqual([late]);
    expect(await states()).toEqual({ [waiting]: 'pendingCheckIn', [moved]: 'migrated', [late]: 'pendingCheckIn' });
    const fans = (await store.readStream(fanOutStreamId(tenantId))).filter((e) => e.type === 'CheckInFanOut');
    expect(fans.map((e) => (e.data as { devicesNotified: number }).devicesNotified)).toEqual([2, 1]);

    // A user change of another cause (a license assigned) tells every device of the user.
    await db.transaction((sql) => fanOut.usersChanged(sql, [userChange(randomUUID())]));
    expect(await toldFor('userAuthorityChanged')).toEqual([waiting, moved, late, late].sort());
    expect(Object.values(await states())).toEqual(['pendingCheckIn', 'pendingCheckIn', 'pendingCheckIn']);
  });

  it('R9/R16: a batch of user changes has the outcome of its changes applied in turn, each recorded as caused by its own change, in its correlation', async () => {
    const tenantId = randomUUID();
    const [alice, bob] = [randomUUID(), randomUUID()];
    const [waiting, moved] = (await seed(tenantId, { users: 2, userId: alice })).withUser;
    const [settled] = (await seed(tenantId, { users: 1, userId: bob })).withUser;
    const change = authorityChanged(tenantId, 'office365', 'intune');
    await db.transaction(async (sql) => {
      await sql.query('insert into tenants (tenant_id, authority, authority_event_id) values ($1, $2, $3)', [tenantId, 'intune', change.eventId]);
      await fanOut.tenantChanged(sql, change);
    });
    await db.query(`update devices set managed_by = 'intune', migration_state = 'migrated' where device_id = any($1::uuid[])`, [[moved, settled]]);
    const [late] = (await seed(tenantId, { users: 1, userId: alice })).withUser;
    const userChange = (userId: string, causationId: string, from: EffectiveAuthority, to: EffectiveAuthority) =>
      eventFixture(UserAuthorityChanged, { streamId: userStreamId(userId), tenantId, causationId, data: { userId, from, to, warnings: [] } });
    const batch = [
      userChange(alice, change.eventId, 'office365', 'intune'), // licensing's answer: only the device the fan-out missed
      userChange(bob, randomUUID(), 'intune', 'office365'), // a licence: every device of bob
      userChange(bob, randomUUID(), 'office365', 'office365'), // no move: nothing
      userChange(alice, randomUUID(), 'intune', 'office365'), // alice again, after her first change: every device of hers
    ];

    await db.transaction((sql) => fanOut.usersChanged(sql, batch));

    const told = await db.query<{ device_id: string }>('select device_id from notifications where tenant_id = $1 and reason = $2', [tenantId, 'userAuthorityChanged']);
    expect(told.map((r) => r.device_id).sort()).toEqual([late, settled, waiting, moved, late].sort());
    expect((await devicesIn(tenantId)).every((d) => d.migration_state === 'pendingCheckIn')).toBe(true);
    const recorded = (await store.readStream(fanOutStreamId(tenantId))).slice(2);
    // Each in its change's own context (eventContext), not the batch's.
    const caused = (n: number) => [batch[n].eventId, batch[n].correlationId];
    expect(recorded.map((e) => [e.type, e.streamVersion, e.causationId, e.correlationId])).toEqual([
      ['CheckInsRequested', 3, ...caused(0)],
      ['CheckInFanOut', 4, ...caused(0)],
      ['CheckInsRequested', 5, ...caused(1)],
      ['CheckInFanOut', 6, ...caused(1)],
      ['CheckInsRequested', 7, ...caused(3)],
      ['CheckInFanOut', 8, ...caused(3)],
    ]);
    const named = (e: (typeof recorded)[number]) => (e.data as { devices: { deviceId: string }[] }).devices.map((d) => d.deviceId).sort();
    expect([named(recorded[0]), named(recorded[2]), named(recorded[4])]).toEqual([[late], [settled], [waiting, moved, late].sort()]);
    expect([1, 3, 5].map((i) => recorded[i].data)).toMatchObject([
      { userId: alice, to: 'intune', devicesNotified: 1 },
      { userId: bob, to: 'office365', devicesNotified: 1 },
      { userId: alice, to: 'office365', devicesNotified: 3 },
    ]);
  });

  it('R16: a change to the same authority notifies nobody and records nothing', async () => {
    const tenantId = randomUUID();
    await seed(tenantId, { users: 2, userless: 1 });
    await db.transaction((sql) => fanOut.tenantChanged(sql, authorityChanged(tenantId, 'intune', 'intune')));
    expect(await db.query('select 1 from notifications where tenant_id = $1', [tenantId])).toEqual([]);
    expect(await store.readStream(fanOutStreamId(tenantId))).toEqual([]);
    expect((await devicesIn(tenantId)).map((d) => d.migration_state)).toEqual(['none', 'none', 'none']);
  });

  it('a rolled-back fan-out leaves nothing queued and wakes nobody', async () => {
    const tenantId = randomUUID();
    const [deviceId] = (await seed(tenantId, { users: 1 })).withUser;
    const hub = await newHub();
    const poll = hub.poll({ deviceId, tenantId }, 2);
    await expect(
      db.transaction(async (sql) => {
        await fanOut.tenantChanged(sql, authorityChanged(tenantId, 'office365', 'intune'));
        throw new Error('inbox transaction fails');
      }),
    ).rejects.toThrow('inbox transaction fails');
    expect(await poll.result).toEqual([]);
    expect(await db.query('select 1 from notifications where tenant_id = $1', [tenantId])).toEqual([]);
    expect(await db.query('select 1 from outbox where message_key = $1', [deviceId])).toEqual([]);
  });

  describe('long poll', () => {
    it('a waiting poll is answered as soon as a notification is committed (woken by LISTEN/NOTIFY, not by polling)', async () => {
      const hub = await newHub();
      const device = { deviceId: randomUUID(), tenantId: randomUUID() };
      const started = Date.now();
      const poll = hub.poll(device, 30);
      await eventually(() => expect(hub.size).toBe(1));
      await new Promise((r) => setTimeout(r, 200)); // the poll has looked and found nothing: only a NOTIFY can answer it now
      await notify(device.deviceId, device.tenantId);
      const received = await poll.result;
      expect(received).toEqual([{ notificationId: expect.any(String), reason: 'sync', createdAt: clock.now().toISOString() }]);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(hub.size).toBe(0);
      const [row] = await db.query<{ delivered_at: Date | null }>('select delivered_at from notifications where notification_id = $1', [
        received[0].notificationId,
      ]);
      expect(row.delivered_at).not.toBeNull();
    });

    it('every replica wakes its own waiting polls: a notification committed anywhere reaches the replica the device waits on', async () => {
      const [a, b] = [await newHub(), await newHub()];
      const tenantId = randomUUID();
      const onA = { deviceId: randomUUID(), tenantId };
      const onB = { deviceId: randomUUID(), tenantId };
      const pollA = a.poll(onA, 30);
      const pollB = b.poll(onB, 30);
      await new Promise((r) => setTimeout(r, 200));
      await db.transaction((sql) => notifier.notify(sql, [onA, onB], 'authorityChanged'));
      expect((await pollA.result).map((n) => n.reason)).toEqual(['authorityChanged']);
      expect((await pollB.result).map((n) => n.reason)).toEqual(['authorityChanged']);
    });

    it('waitSeconds=0 answers at once: with what is queued, or with nothing', async () => {
      const hub = await newHub();
      const device = { deviceId: randomUUID(), tenantId: randomUUID() };
      const started = Date.now();
      expect(await hub.poll(device, 0).result).toEqual([]);
      await notify(device.deviceId, device.tenantId, 'sync');
      clock.advance(1);
      await notify(device.deviceId, device.tenantId, 'authorityChanged');
      expect((await hub.poll(device, 0).result).map((n) => n.reason)).toEqual(['sync', 'authorityChanged']);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(hub.size).toBe(0);
    });

    it('an idle poll answers with an empty list after about waitSeconds', async () => {
      const hub = await newHub();
      const started = Date.now();
      expect(await hub.poll({ deviceId: randomUUID(), tenantId: randomUUID() }, 1).result).toEqual([]);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(950);
      expect(took).toBeLessThan(5000);
      expect(hub.size).toBe(0);
    });

    it('notifications stay queued until a poll receives them: no poll, an idle poll elsewhere, a poll that went away', async () => {
      const hub = await newHub();
      const tenantId = randomUUID();
      const device = { deviceId: randomUUID(), tenantId };
      await notify(device.deviceId, tenantId);
      await new Promise((r) => setTimeout(r, 100));
      const queued = () => db.query('select 1 from notifications where device_id = $1 and delivered_at is null', [device.deviceId]);
      expect(await queued()).toHaveLength(1);
      // Another device of the tenant waits and times out: it takes nothing of this one.
      expect(await hub.poll({ deviceId: randomUUID(), tenantId }, 1).result).toEqual([]);
      expect(await queued()).toHaveLength(1);
      // A poll handed a notification just as its client went away puts it back.
      const poll = hub.poll(device, 30);
      poll.cancel();
      expect(await poll.result).toEqual([]);
      expect(await queued()).toHaveLength(1);
      // The next poll receives it, once.
      expect(await hub.poll(device, 0).result).toHaveLength(1);
      expect(await hub.poll(device, 0).result).toEqual([]);
    });

    it('reconnects after losing its LISTEN session and answers what was committed meanwhile', async () => {
      const name = `hub-reconnect-${randomUUID().slice(0, 8)}`;
      const hub = await newHub(name);
      const device = { deviceId: randomUUID(), tenantId: randomUUID() };
      const poll = hub.poll(device, 30);
      await new Promise((r) => setTimeout(r, 200));
      await db.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [name]);
      await eventually(() => expect(hub.listening).toBe(false), 5000, 10);
      await notify(device.deviceId, device.tenantId); // nobody listens: the NOTIFY is lost
      expect((await poll.result).map((n) => n.reason)).toEqual(['sync']);
      expect(hub.listening).toBe(true);
    });
  });

  describe('GET /device/v1/notifications', () => {
    let app: INestApplication;
    let url: string;
    let hub: LongPollHub;
    let owner: http.Server;
    const credential = `dc_${randomUUID()}`;
    const device = { deviceId: randomUUID(), tenantId: randomUUID() };

    beforeAll(async () => {
      hub = await newHub();
      await db.query(
        `insert into devices (device_id, tenant_id, user_id, platform, credential_hash, status, managed_by, certificate_serial, certificate_not_after)
         values ($1, $2, null, 'windows', $3, 'active', 'intune', 'AB', now() + interval '1 year')`,
        [device.deviceId, device.tenantId, createHash('sha256').update(credential).digest('hex')],
      );
      // The owners of the device's state have nothing newer than the row written above.
      owner = http.createServer((req, res) => req.resume().on('end', () => res.setHeader('content-type', 'application/json').end('{"streams":{}}')));
      await new Promise<void>((r) => owner.listen(0, '127.0.0.1', r));
      const ownerUrl = `http://127.0.0.1:${(owner.address() as AddressInfo).port}`;
      @Module({
        controllers: [NotificationsController],
        providers: [
          DeviceAuth,
          // The poll's signature guard (unsigned polls pass it; signed ones are the e2e's, device-identity).
          MdmSignatureGuard,
          { provide: SERVICE_CONFIG, useValue: { ENROLLMENT_URL: ownerUrl } },
          { provide: CLOCK, useValue: new ManualClock(new Date()) },
          { provide: CallSigner, useValue: new CallSigner(TEST_SIGNING_KEY, 'device-sync') },
          { provide: Database, useValue: db },
          { provide: LongPollHub, useValue: hub },
          { provide: ReadYourWrites, useValue: new ReadYourWrites({ db, logger, signer: new CallSigner(TEST_SIGNING_KEY, 'device-sync') }) },
          { provide: DeviceStateOwners, useValue: new DeviceStateOwners(ownerUrl, ownerUrl, ownerUrl) },
        ],
      })
      class TestModule {}
      app = await NestFactory.create(TestModule, { logger: false });
      app.useGlobalFilters(new ApiExceptionFilter(logger));
      await app.listen(0, '127.0.0.1');
      url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    });
    afterAll(async () => {
      await app.close();
      owner.close();
    });

    type Answer = { notifications: { notificationId: string; reason: string; createdAt: string }[]; code?: string };
    const get = async (query: string, auth = `Device ${credential}`, signal?: AbortSignal) => {
      const res = await fetch(`${url}/device/v1/notifications${query}`, { headers: { authorization: auth }, signal });
      return { status: res.status, json: async () => (await res.json()) as Answer };
    };

    it('answers { notifications: [{ notificationId, reason, createdAt }] } to the device, at once with waitSeconds=0', async () => {
      await notify(device.deviceId, device.tenantId, 'remoteAction');
      const res = await get('?waitSeconds=0');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        notifications: [{ notificationId: expect.any(String), reason: 'remoteAction', createdAt: clock.now().toISOString() }],
      });
      expect(await (await get('')).json()).toEqual({ notifications: [] });
    });

    it('a long poll over HTTP is answered when a notification arrives', async () => {
      const pending = get('?waitSeconds=20');
      await eventually(() => expect(hub.size).toBe(1));
      await new Promise((r) => setTimeout(r, 100));
      await notify(device.deviceId, device.tenantId);
      expect((await (await pending).json()).notifications.map((n) => n.reason)).toEqual(['sync']);
    });

    it('refuses a bad waitSeconds or an unknown field with 400 VALIDATION_FAILED, and a bad credential with 401', async () => {
      for (const q of ['?waitSeconds=61', '?waitSeconds=-1', '?waitSeconds=abc', '?waitSeconds=1.5', '?wait=5']) {
        const res = await get(q);
        expect([q, res.status, (await res.json()).code]).toEqual([q, 400, 'VALIDATION_FAILED']);
      }
      const res = await get('?waitSeconds=0', 'Device dc_nope');
      expect([res.status, (await res.json()).code]).toEqual([401, 'UNAUTHORIZED']);
      expect((await get('', '')).status).toBe(401);
    });

    it('a client that disconnects early leaves the hub, and what arrives later stays queued', async () => {
      const abort = new AbortController();
      const pending = get('?waitSeconds=30', undefined, abort.signal).catch(() => 'aborted');
      await eventually(() => expect(hub.size).toBe(1));
      abort.abort();
      expect(await pending).toBe('aborted');
      await eventually(() => expect(hub.size).toBe(0));
      await notify(device.deviceId, device.tenantId);
      await new Promise((r) => setTimeout(r, 200));
      expect((await (await get('?waitSeconds=0')).json()).notifications).toHaveLength(1);
    });
  });

  describe('scale', () => {
    it('R16/R17: 20,000 devices of one tenant fan out in a bounded number of statements; 10,000 waiting polls are answered by one take', async () => {
      const tenantId = randomUUID();
      const { withUser, userless } = await seed(tenantId, { users: 18_000, userless: 2_000 });

      // 10,000 of them wait in one process: a promise and an unref'd timer each, nothing running.
      const hubQueries = counting(db);
      const hub = await newHub(undefined, hubQueries.sql);
      const waiting = withUser.slice(0, 10_000);
      const polls = waiting.map((deviceId) => hub.poll({ deviceId, tenantId }, 60));
      await eventually(() => expect(hubQueries.statements).toBe(10_000), 60_000, 20); // each looked once, found nothing
      expect(hub.size).toBe(10_000);
      hubQueries.statements = 0;
      await new Promise((r) => setTimeout(r, 300));
      expect(hubQueries.statements).toBe(0); // idle polls cost no work

      const started = Date.now();
      const statements = await applyAsTheInbox([authorityChanged(tenantId, 'office365', 'intune')]);
      const fanOutMs = Date.now() - started;

      const answers = await Promise.all(polls.map((p) => p.result));
      const answeredMs = Date.now() - started;
      expect(answers.every((a) => a.length === 1 && a[0].reason === 'authorityChanged')).toBe(true);
      expect(hubQueries.statements).toBeLessThanOrEqual(2); // one take for the whole tenant (plus one if woken twice)
      expect(hub.size).toBe(0);

      // 1 lock of the tenant's devices + 1 update of the tenant + 1 update + 4 inserts of 5,000 notifications + 1 update + 1 append of 2,000 blocked events
      // + 1 read of the marked devices' versions + 1 append of the 18 CheckInsRequested and the CheckInFanOut.
      expect(statements).toBeLessThanOrEqual(11);
      const [counts] = await db.query<{ notified: number; pending: number; support: number; queued: number; messages: number; blocked: number }>(
        `select (select count(*)::int from notifications where tenant_id = $1) notified,
                (select count(*)::int from devices where tenant_id = $1 and migration_state = 'pendingCheckIn') pending,
                (select count(*)::int from devices where tenant_id = $1 and migration_state = 'needsSupport') support,
                (select count(*)::int from notifications where tenant_id = $1 and delivered_at is null) queued,
                (select count(*)::int from outbox where topic = $2 and payload->>'tenantId' = $1::text) messages,
                (select count(*)::int from es_events where tenant_id = $1 and type = 'DeviceMigrationBlocked') blocked`,
        [tenantId, NOTIFICATIONS],
      );
      expect(counts).toEqual({ notified: 18_000, pending: 18_000, support: 2_000, queued: 8_000, messages: 18_000, blocked: userless.length });
      const fanOutStream = await store.readStream(fanOutStreamId(tenantId));
      const fan = fanOutStream.pop()!;
      expect(fan.data).toMatchObject({ devicesNotified: 18_000, devicesNeedingSupport: 2_000 });
      // 18 CheckInsRequested of at most 1,000 devices name each notified device once.
      const named = fanOutStream.flatMap((e) => (e.data as { devices: { deviceId: string }[] }).devices.map((d) => d.deviceId));
      expect([fanOutStream.length, new Set(named).size, named.length]).toEqual([18, 18_000, 18_000]);
      expect(fanOutMs).toBeLessThan(10_000);
      process.stdout.write(
        `\nfan-out of 20,000 devices: ${fanOutMs} ms in ${statements} statements; 10,000 waiting polls answered ${answeredMs} ms after the start\n`,
      );
    });

    it('R9/R16: licensing\'s answer to a tenant\'s authority change, a change per user, is applied in a bounded number of statements', async () => {
      const tenantId = randomUUID();
      const users = Array.from({ length: 2_000 }, () => randomUUID());
      await db.query(
        `insert into devices (device_id, tenant_id, user_id, platform, credential_hash, status, managed_by, certificate_serial, certificate_not_after)
         select gen_random_uuid(), $1, u, 'android', md5(random()::text), 'active', 'office365', 'AA', now() + interval '1 year'
           from unnest($2::uuid[]) u, generate_series(1, 2)`,
        [tenantId, users],
      );
      const change = authorityChanged(tenantId, 'office365', 'intune');
      await db.transaction(async (sql) => {
        await sql.query('insert into tenants (tenant_id, authority, authority_event_id) values ($1, $2, $3)', [tenantId, 'intune', change.eventId]);
        await fanOut.tenantChanged(sql, change);
      });
      // Half the devices checked in since; the other half still wait for theirs.
      await db.query(
        `update devices set managed_by = 'intune', migration_state = 'migrated'
          where device_id in (select device_id from devices where tenant_id = $1 order by device_id limit 2000)`,
        [tenantId],
      );
      const answers = users.map((userId) =>
        eventFixture(UserAuthorityChanged, { streamId: userStreamId(userId), tenantId, causationId: change.eventId, data: { userId, from: 'office365', to: 'intune', warnings: [] } }),
      );

      const started = Date.now();
      const statements = await applyAsTheInbox(answers);
      const appliedMs = Date.now() - started;

      // 1 lock of the users' devices in id order + 1 read of the tenants + 1 update of every user's devices + 1 append of every change's CheckInFanOut (none marked, none read).
      expect(statements).toBe(4);
      expect(await db.query('select 1 from notifications where tenant_id = $1 and reason = $2', [tenantId, 'userAuthorityChanged'])).toEqual([]);
      const fans = (await store.readStream(fanOutStreamId(tenantId))).filter((e) => e.type === 'CheckInFanOut').slice(1);
      expect(fans.map((e) => e.causationId)).toEqual(answers.map((e) => e.eventId));
      expect(fans.every((e) => (e.data as { devicesNotified: number }).devicesNotified === 0)).toBe(true);
      process.stdout.write(`\n2,000 user changes caused by an authority change: ${appliedMs} ms in ${statements} statements\n`);
    });
  });
});
