import { randomUUID } from 'node:crypto';
import { DomainError, EventRegistry } from '@mdm/contracts/core';
import { deviceSyncEvents, syncStreamId } from '@mdm/contracts/device-sync';
import { ManualClock } from '@mdm/platform/clock';
import { Database, Sql } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { testDatabase } from '@mdm/platform/testing';
import { deviceSyncService } from '../device-sync.definition';
import { NotificationReason, NotifierPort } from '../ports';
import { CheckInFacts } from '../check-in/device-facts';
import { ActionsService } from './actions.service';

/** The notifier is another part's code; this fake only records what it was asked (in which transaction). */
class RecordingNotifier extends NotifierPort {
  calls: { devices: { deviceId: string; tenantId: string }[]; reason: NotificationReason }[] = [];
  failWith: Error | undefined;
  async notify(sql: Sql, devices: { deviceId: string; tenantId: string }[], reason: NotificationReason) {
    await sql.query('select 1'); // it is handed the queue's transaction
    if (this.failWith) throw this.failWith;
    this.calls.push({ devices, reason });
  }
}

describe('remote actions (R24)', () => {
  let db: Database;
  let store: EventStore;
  let actions: ActionsService;
  const notifier = new RecordingNotifier();
  const clock = new ManualClock(new Date('2026-03-01T10:00:00.000Z'));

  beforeAll(async () => {
    db = await testDatabase('dsactions', deviceSyncService.migrations);
    store = new EventStore(db, { registry: new EventRegistry(deviceSyncEvents), clock, outboxChannel: `${db.schema}_outbox` });
    actions = new ActionsService(db, store, clock, notifier);
  });
  afterAll(() => db?.close());
  beforeEach(() => {
    notifier.calls = [];
    notifier.failWith = undefined;
  });

  async function newDevice(status = 'active', tenantId = randomUUID()) {
    const deviceId = randomUUID();
    const credentialHash = randomUUID();
    await db.query(
      `insert into devices (device_id, tenant_id, platform, credential_hash, status, managed_by, certificate_serial, certificate_not_after)
       values ($1, $2, 'iOS', $3, $4, 'intune', 'AB01', '2027-01-01T00:00:00Z')`,
      [deviceId, tenantId, credentialHash, status],
    );
    return { deviceId, tenantId, credentialHash };
  }
  const inTx = <T>(fn: (sql: Sql) => Promise<T>) => db.transaction(fn);
  /** What a check-in does: its facts read finds (and locks) the pending actions, deliver marks them sent. */
  const deliver = async (sql: Sql, device: { deviceId: string; tenantId: string; credentialHash: string }) =>
    actions.deliver(sql, device, (await new CheckInFacts().read(sql, [device.credentialHash]))[0].pending);
  const statuses = async (deviceId: string) =>
    (await db.query<{ command_id: string; status: string; error: string | null }>('select command_id, status, error from actions where device_id = $1', [deviceId]));
  const events = async (deviceId: string) => (await store.readStream(syncStreamId(deviceId))).map((e) => ({ type: e.type, data: e.data, actor: e.actor }));
  const expectNotFound = (p: Promise<unknown>) => expect(p).rejects.toMatchObject({ code: 'NOT_FOUND' } satisfies Partial<DomainError>);

  it('R24: queuing an action makes it pending, appends RemoteActionQueued and notifies the device (remoteAction)', async () => {
    const device = await newDevice();
    const queued = await actions.queue(device.tenantId, device.deviceId, 'remoteLock', 'token:admin');
    expect(queued).toEqual({ commandId: expect.any(String), type: 'remoteLock', status: 'pending' });

    expect(await actions.get(device.tenantId, device.deviceId, queued.commandId)).toEqual({
      commandId: queued.commandId,
      type: 'remoteLock',
      status: 'pending',
      updatedAt: clock.now().toISOString(),
    });
    expect(await events(device.deviceId)).toEqual([
      { type: 'RemoteActionQueued', data: { commandId: queued.commandId, deviceId: device.deviceId, type: 'remoteLock' }, actor: 'token:admin' },
    ]);
    expect(notifier.calls).toEqual([{ devices: [{ deviceId: device.deviceId, tenantId: device.tenantId }], reason: 'remoteAction' }]);
    // Published: the event is in the outbox with the row.
    const [outbox] = await db.query<{ n: number }>(`select count(*)::int as n from outbox where message_key = $1`, [syncStreamId(device.deviceId)]);
    expect(outbox.n).toBe(1);
  });

  it('R24: a sync action also sends a sync notification', async () => {
    const device = await newDevice();
    await actions.queue(device.tenantId, device.deviceId, 'sync', 'token:helpdesk');
    expect(notifier.calls).toEqual([{ devices: [{ deviceId: device.deviceId, tenantId: device.tenantId }], reason: 'sync' }]);
  });

  it('R24: queue is one transaction: a failing notification leaves no action and no event', async () => {
    const device = await newDevice();
    notifier.failWith = new Error('boom');
    await expect(actions.queue(device.tenantId, device.deviceId, 'wipe', 'token:admin')).rejects.toThrow('boom');
    expect(await statuses(device.deviceId)).toEqual([]);
    expect(await events(device.deviceId)).toEqual([]);
  });

  it("R24: another tenant's device, an unknown device or one no longer active is a 404, and nothing is written", async () => {
    const device = await newDevice();
    await expectNotFound(actions.queue(randomUUID(), device.deviceId, 'wipe', 'token:other'));
    await expectNotFound(actions.queue(device.tenantId, randomUUID(), 'wipe', 'token:admin'));
    for (const status of ['unenrolled', 'removed']) {
      const gone = await newDevice(status);
      await expectNotFound(actions.queue(gone.tenantId, gone.deviceId, 'retire', 'token:admin'));
      expect(await statuses(gone.deviceId)).toEqual([]);
    }
    expect(await statuses(device.deviceId)).toEqual([]);
    expect(await events(device.deviceId)).toEqual([]);
    expect(notifier.calls).toEqual([]);
  });

  it("R24: reading an action of another tenant or another device is a 404", async () => {
    const device = await newDevice();
    const other = await newDevice('active', device.tenantId);
    const { commandId } = await actions.queue(device.tenantId, device.deviceId, 'wipe', 'token:admin');
    await expectNotFound(actions.get(randomUUID(), device.deviceId, commandId));
    await expectNotFound(actions.get(device.tenantId, other.deviceId, commandId));
    await expectNotFound(actions.get(device.tenantId, device.deviceId, randomUUID()));
  });

  it('R24: deliver hands over the pending actions oldest first, marks them sent in one append, and only once', async () => {
    const device = await newDevice();
    const other = await newDevice('active', device.tenantId);
    const lock = await actions.queue(device.tenantId, device.deviceId, 'remoteLock', 'token:admin');
    const wipe = await actions.queue(device.tenantId, device.deviceId, 'wipe', 'token:admin'); // same instant: queue order
    clock.advance(60);
    const sync = await actions.queue(device.tenantId, device.deviceId, 'sync', 'token:admin');
    const elsewhere = await actions.queue(other.tenantId, other.deviceId, 'retire', 'token:admin');
    clock.advance(60);

    const delivered = await inTx((sql) => deliver(sql, device));
    expect(delivered).toEqual([
      { commandId: lock.commandId, type: 'remoteLock' },
      { commandId: wipe.commandId, type: 'wipe' },
      { commandId: sync.commandId, type: 'sync' },
    ]);
    expect(await actions.get(device.tenantId, device.deviceId, lock.commandId)).toEqual({
      commandId: lock.commandId,
      type: 'remoteLock',
      status: 'sent',
      updatedAt: clock.now().toISOString(),
    });
    const stream = await store.readStream(syncStreamId(device.deviceId));
    const sent = stream.filter((e) => e.type === 'RemoteActionStatusChanged');
    expect(sent.map((e) => e.data)).toEqual(
      delivered.map((d) => ({ commandId: d.commandId, deviceId: device.deviceId, type: d.type, status: 'sent', error: null })),
    );
    expect(new Set(sent.map((e) => e.eventId)).size).toBe(3);
    expect(sent.every((e) => e.actor === `device:${device.deviceId}` && e.recordedAt === sent[0].recordedAt)).toBe(true);
    // One append: consecutive versions after the three RemoteActionQueued.
    expect(sent.map((e) => e.streamVersion)).toEqual([4, 5, 6]);

    expect(await inTx((sql) => deliver(sql, device))).toEqual([]);
    expect((await actions.get(other.tenantId, other.deviceId, elsewhere.commandId)).status).toBe('pending');
  });

  it('R24: deliver rolls back with the check-in that failed', async () => {
    const device = await newDevice();
    const { commandId } = await actions.queue(device.tenantId, device.deviceId, 'wipe', 'token:admin');
    await expect(
      inTx(async (sql) => {
        await deliver(sql, device);
        throw new Error('check-in failed');
      }),
    ).rejects.toThrow('check-in failed');
    expect((await actions.get(device.tenantId, device.deviceId, commandId)).status).toBe('pending');
    expect(await inTx((sql) => deliver(sql, device))).toEqual([{ commandId, type: 'wipe' }]);
  });

  it('R24: applyResults moves sent actions to done, or failed with the error', async () => {
    const device = await newDevice();
    const lock = await actions.queue(device.tenantId, device.deviceId, 'remoteLock', 'token:admin');
    const wipe = await actions.queue(device.tenantId, device.deviceId, 'wipe', 'token:admin');
    await inTx((sql) => deliver(sql, device));
    clock.advance(30);

    await inTx((sql) =>
      actions.applyResults(sql, device, [
        { commandId: wipe.commandId, status: 'failed', error: 'user cancelled' },
        { commandId: lock.commandId, status: 'done', error: 'ignored for done' },
      ]),
    );
    expect(await actions.get(device.tenantId, device.deviceId, lock.commandId)).toEqual({
      commandId: lock.commandId,
      type: 'remoteLock',
      status: 'done',
      updatedAt: clock.now().toISOString(),
    });
    expect(await actions.get(device.tenantId, device.deviceId, wipe.commandId)).toEqual({
      commandId: wipe.commandId,
      type: 'wipe',
      status: 'failed',
      updatedAt: clock.now().toISOString(),
      error: 'user cancelled',
    });
    const changed = (await events(device.deviceId)).filter((e) => e.type === 'RemoteActionStatusChanged').slice(2);
    expect(changed.map((e) => e.data)).toEqual([
      { commandId: wipe.commandId, deviceId: device.deviceId, type: 'wipe', status: 'failed', error: 'user cancelled' },
      { commandId: lock.commandId, deviceId: device.deviceId, type: 'remoteLock', status: 'done', error: null },
    ]);
  });

  it("R24: results for unknown commands, another device's or tenant's commands, or malformed ids are ignored", async () => {
    const device = await newDevice();
    const other = await newDevice('active', device.tenantId);
    const foreign = await newDevice();
    const theirs = await actions.queue(other.tenantId, other.deviceId, 'wipe', 'token:admin');
    const foreignAction = await actions.queue(foreign.tenantId, foreign.deviceId, 'wipe', 'token:admin');
    await inTx((sql) => deliver(sql, other));
    await inTx((sql) => deliver(sql, foreign));
    const before = (await events(device.deviceId)).length;

    await inTx((sql) =>
      actions.applyResults(sql, device, [
        { commandId: randomUUID(), status: 'done' },
        { commandId: theirs.commandId, status: 'done' },
        { commandId: foreignAction.commandId, status: 'failed', error: 'x' },
        { commandId: 'not-a-uuid', status: 'done' },
      ]),
    );
    await inTx((sql) => actions.applyResults(sql, device, []));
    expect((await actions.get(other.tenantId, other.deviceId, theirs.commandId)).status).toBe('sent');
    expect((await actions.get(foreign.tenantId, foreign.deviceId, foreignAction.commandId)).status).toBe('sent');
    expect((await events(device.deviceId)).length).toBe(before);
    // The right device under the wrong tenant changes nothing either.
    await inTx((sql) => actions.applyResults(sql, { deviceId: other.deviceId, tenantId: randomUUID() }, [{ commandId: theirs.commandId, status: 'done' }]));
    expect((await actions.get(other.tenantId, other.deviceId, theirs.commandId)).status).toBe('sent');
  });

  it('R24: the lifecycle is pending → sent → done | failed only', async () => {
    const device = await newDevice();
    const early = await actions.queue(device.tenantId, device.deviceId, 'remoteLock', 'token:admin');
    // A result for an action never sent: ignored, it stays pending.
    await inTx((sql) => actions.applyResults(sql, device, [{ commandId: early.commandId, status: 'done' }]));
    expect((await actions.get(device.tenantId, device.deviceId, early.commandId)).status).toBe('pending');

    await inTx((sql) => deliver(sql, device));
    // A repeated result in one report: the first one counts.
    await inTx((sql) =>
      actions.applyResults(sql, device, [
        { commandId: early.commandId, status: 'failed', error: 'locked out' },
        { commandId: early.commandId, status: 'done' },
      ]),
    );
    // A finished action neither changes again nor is delivered again.
    await inTx((sql) => actions.applyResults(sql, device, [{ commandId: early.commandId, status: 'done' }]));
    expect(await inTx((sql) => deliver(sql, device))).toEqual([]);
    expect(await actions.get(device.tenantId, device.deviceId, early.commandId)).toMatchObject({ status: 'failed', error: 'locked out' });

    const trail = (await events(device.deviceId)).map((e) => (e.type === 'RemoteActionQueued' ? 'pending' : (e.data as { status: string }).status));
    expect(trail).toEqual(['pending', 'sent', 'failed']);
  });
});
