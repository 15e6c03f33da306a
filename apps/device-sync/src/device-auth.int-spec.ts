import { createHash, randomUUID } from 'node:crypto';
import { tenantStreamId } from '@mdm/contracts/authority';
import { credentialLookup, deviceStreamId, newDeviceCredential } from '@mdm/contracts/enrollment';
import { userStreamId } from '@mdm/contracts/licensing';
import { Database } from '@mdm/platform/database';
import { CallSigner } from '@mdm/platform/http-client';
import { OwnerQuery, ReadYourWrites } from '@mdm/platform/inbox';
import { createLogger } from '@mdm/platform/logging';
import { TEST_SIGNING_KEY, testDatabase } from '@mdm/platform/testing';
import { DeviceAuth, DeviceCredential, DeviceStateOwners } from './device-auth';
import { deviceSyncService } from './device-sync.definition';

const owners = new DeviceStateOwners('http://authority', 'http://licensing', 'http://enrollment');
const hash = (credential: string) => createHash('sha256').update(credential).digest('hex');

/** A device as this service's inbox applies its enrollment: its row, and its streams applied to version 1. */
async function applied(db: Database, device: { deviceId: string; tenantId: string; userId: string; credential: string }) {
  await db.query(
    `insert into devices (device_id, tenant_id, user_id, platform, credential_hash, status, managed_by, certificate_serial, certificate_not_after)
     values ($1, $2, $3, 'ios', $4, 'active', 'intune', 'AA', now() + interval '1 year')`,
    [device.deviceId, device.tenantId, device.userId, hash(device.credential)],
  );
  await db.query('insert into consumed_streams (stream_id, tenant_id, version) select s, $2, 1 from unnest($1::text[]) s', [
    [deviceStreamId(device.deviceId), tenantStreamId(device.tenantId), userStreamId(device.userId)],
    device.tenantId,
  ]);
}

/**
 * The owners as read-your-writes sees them, without their services: each asked stream is at version
 * 1, and the first time enrollment is asked for `arriving`, its enrollment reaches this service's
 * inbox (the device's row and the streams' applied versions), as if consumed meanwhile.
 */
class Owners extends ReadYourWrites {
  readonly asked: { owner: string; streams: string[] }[] = [];
  arriving: { deviceId: string; tenantId: string; userId: string; credential: string } | undefined;
  /** Versions the owners answer other than 1. */
  readonly committed: Record<string, number> = {};
  /** What read-your-writes recorded of its steps (read_your_writes_seconds). */
  readonly recorded: { step: string; seconds: number }[] = [];

  constructor(private readonly db: Database) {
    super({
      db,
      signer: new CallSigner(TEST_SIGNING_KEY, 'device-sync'),
      logger: createLogger('device-auth-test', 'silent'),
      pollMs: 10,
      observe: (step, seconds) => this.recorded.push({ step, seconds }),
    });
  }

  override async published(query: OwnerQuery[]): Promise<Record<string, number>> {
    // As the real one: an owner is called when some query names a stream or a prefix.
    const streams = query.flatMap(({ ownerUrl, queries }) => {
      const named = queries.flatMap((q) => q.streams ?? []);
      if (named.length + queries.flatMap((q) => q.prefixes ?? []).length > 0) this.asked.push({ owner: new URL(ownerUrl).hostname, streams: named });
      return named;
    });
    const device = this.arriving;
    if (device && streams.includes(deviceStreamId(device.deviceId))) {
      this.arriving = undefined;
      await applied(this.db, device);
    }
    return Object.fromEntries(streams.map((s) => [s, this.committed[s] ?? 1]));
  }
}

describe('DeviceAuth (Postgres): a device call waits for what the owners committed before it', () => {
  let db: Database;
  let answering: Owners;
  let auth: DeviceAuth;

  beforeAll(async () => {
    db = await testDatabase('dsauth', deviceSyncService.migrations);
    answering = new Owners(db);
    auth = new DeviceAuth(db, answering, owners);
  });
  afterAll(() => db.close());
  it('R13: a device enrolled a moment ago is answered after one question per owner: enrollment, asked for its device at the lookup, is not asked again', async () => {
    const device = { deviceId: randomUUID(), tenantId: randomUUID(), userId: randomUUID() };
    const credential = newDeviceCredential(device);
    answering.arriving = { ...device, credential };
    const presented: DeviceCredential = { hash: hash(credential), lookup: credentialLookup(credential) };

    const [authenticated] = await auth.catchUp([await auth.lookUp(presented)]);

    expect(authenticated).toEqual({ deviceId: device.deviceId, tenantId: device.tenantId });
    expect(answering.asked).toEqual([
      { owner: 'enrollment', streams: [deviceStreamId(device.deviceId)] },
      { owner: 'authority', streams: [tenantStreamId(device.tenantId)] },
      { owner: 'licensing', streams: [userStreamId(device.userId)] },
    ]);
  });

  it("the wait of a device call for this service's inbox is recorded (read_your_writes_seconds, apply): 0 caught up, the time it waited behind", async () => {
    const device = { deviceId: randomUUID(), tenantId: randomUUID(), userId: randomUUID() };
    const credential = newDeviceCredential(device);
    await applied(db, { ...device, credential });
    const presented: DeviceCredential = { hash: hash(credential), lookup: credentialLookup(credential) };
    const applies = () => answering.recorded.filter((r) => r.step === 'apply').map((r) => r.seconds);
    answering.recorded.length = 0;

    expect(await auth.catchUp([await auth.lookUp(presented)])).toEqual([{ deviceId: device.deviceId, tenantId: device.tenantId }]);
    expect(applies()).toEqual([0]);

    // The tenant's owner committed a version this inbox applies only a moment later.
    answering.committed[tenantStreamId(device.tenantId)] = 2;
    const appliedLater = new Promise((r) => setTimeout(r, 100)).then(() =>
      db.query('update consumed_streams set version = 2 where stream_id = $1', [tenantStreamId(device.tenantId)]),
    );
    expect(await auth.catchUp([await auth.lookUp(presented)])).toEqual([{ deviceId: device.deviceId, tenantId: device.tenantId }]);
    await appliedLater;
    expect(applies()).toHaveLength(2);
    expect(applies()[1]).toBeGreaterThanOrEqual(0.08);
  });
});
