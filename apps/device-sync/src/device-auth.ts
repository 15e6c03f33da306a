import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { configurationStreamId, tenantStreamId } from '@mdm/contracts/authority';
import { DomainError } from '@mdm/contracts/core';
import { CredentialLookup, credentialLookup, deviceStreamId } from '@mdm/contracts/enrollment';
import { userStreamId } from '@mdm/contracts/licensing';
import { Database, GroupCommit } from '@mdm/platform/database';
import { StreamQuery } from '@mdm/platform/event-store';
import { OwnerQuery, ReadYourWrites } from '@mdm/platform/inbox';

/** The device a request comes from (DESIGN.md §4: a device sees only itself). */
export interface AuthenticatedDevice {
  deviceId: string;
  tenantId: string;
}

/** A request's device credential, in the only form it is kept (its hash), with the ids it names. */
export interface DeviceCredential {
  hash: string;
  lookup: CredentialLookup | undefined;
}

interface DeviceRow {
  credential_hash: string;
  device_id: string;
  tenant_id: string;
  user_id: string | null;
  status: string;
}

const DEVICE = /^Device\s+(\S+)$/i;
/** Two rounds at most: the second only for a device that arrived in the first, to wait for its user. */
const ROUNDS = 2;

/** Where the owners of what a device call decides on answer read-your-writes (their service URLs). */
export class DeviceStateOwners {
  constructor(
    readonly authorityUrl: string,
    readonly licensingUrl: string,
    readonly enrollmentUrl: string,
  ) {}
}

export const unknownDevice = () => new DomainError('UNAUTHORIZED', 'unknown, unenrolled or removed device');

/**
 * A device call is decided on current state (API.md: every command that answered before it is
 * visible to it), although device-sync learns the other contexts' state from their events. Before a
 * call is answered, its batch asks each owner (authority: the tenant and its configurations;
 * licensing: the device's user; enrollment: the device) which versions of those streams it has
 * committed, one call per owner per batch whatever its tenants, and waits until this service's inbox
 * has applied them; the device's row is then read in the same statement (one snapshot) that confirms
 * it. A credential not found here is refused at once, unless it names a tenant and device (new
 * credentials do) that its owner knows: then it was enrolled a moment ago, and is waited for.
 */
@Injectable()
export class DeviceAuth {
  private readonly batches = new GroupCommit<DeviceCredential, AuthenticatedDevice | undefined>((items, settle) => this.catchUp(items, (i) => settle(i, undefined)), {
    maxBatch: 500,
    concurrency: 2,
  });

  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(ReadYourWrites) private readonly readYourWrites: ReadYourWrites,
    @Inject(DeviceStateOwners) private readonly owners: DeviceStateOwners,
  ) {}

  /** The request's credential; a 401 when it has none. */
  credential(req: Request): DeviceCredential {
    const credential = DEVICE.exec(req.header('authorization') ?? '')?.[1];
    if (!credential) throw new DomainError('UNAUTHORIZED', 'expected Authorization: Device <deviceCredential>');
    return { hash: createHash('sha256').update(credential).digest('hex'), lookup: credentialLookup(credential) };
  }

  /** The active device of the request, once everything committed before it has reached this service; else a 401. */
  async authenticate(req: Request): Promise<AuthenticatedDevice> {
    return this.caughtUp(this.credential(req));
  }

  async caughtUp(credential: DeviceCredential): Promise<AuthenticatedDevice> {
    const device = await this.batches.submit(credential);
    if (!device) throw unknownDevice();
    return device;
  }

  /**
   * A batch's devices, each once this service has applied everything its owners had committed when
   * asked (undefined: unknown, unenrolled or removed). For a caller that batches device calls itself
   * (the check-in), so that a call waits in one queue, not two.
   */
  async catchUp(items: DeviceCredential[], unknown: (index: number) => void = () => undefined): Promise<(AuthenticatedDevice | undefined)[]> {
    const hashes = [...new Set(items.map((c) => c.hash))];
    let rows = await this.rows(hashes);
    // Device streams named by a credential that is not here yet (a device enrolled a moment ago).
    const arriving = new Map<string, CredentialLookup>();
    for (const c of items) if (!rows.has(c.hash) && c.lookup) arriving.set(c.hash, c.lookup);
    // A credential found nowhere, which names no device to wait for, is refused now: a flood of
    // guesses never waits for (nor holds up) the batch's catch-up.
    const refuse = () => items.forEach((c, i) => rows.has(c.hash) || arriving.has(c.hash) || unknown(i));
    refuse();
    let asked = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      // A device that is no longer active here stays so: unenrolled and removed are final.
      const live = [...rows.values()].filter((r) => r.status === 'active');
      const owners = this.ask(live, [...arriving.values()], asked);
      if (owners.length === 0) break;
      const wanted = await this.readYourWrites.published(owners);
      for (const [hash, lookup] of arriving) if (!(deviceStreamId(lookup.deviceId) in wanted)) arriving.delete(hash);
      refuse();
      rows = await this.appliedAndRead(wanted, hashes);
      for (const hash of arriving.keys()) if (rows.has(hash)) arriving.delete(hash);
      asked = new Set([...asked, ...live.map((r) => r.device_id)]);
    }
    return items.map((c) => {
      const row = rows.get(c.hash);
      return row?.status === 'active' ? { deviceId: row.device_id, tenantId: row.tenant_id } : undefined;
    });
  }

  /** What to ask each owner for: devices whose streams were not asked for in an earlier round. */
  private ask(live: DeviceRow[], arriving: CredentialLookup[], asked: Set<string>): OwnerQuery[] {
    const tenants = new Map<string, { users: Set<string>; devices: Set<string> }>();
    const of = (tenantId: string) => {
      let t = tenants.get(tenantId);
      if (!t) tenants.set(tenantId, (t = { users: new Set(), devices: new Set() }));
      return t;
    };
    for (const r of live) {
      if (asked.has(r.device_id)) continue;
      const t = of(r.tenant_id);
      t.devices.add(deviceStreamId(r.device_id));
      if (r.user_id) t.users.add(userStreamId(r.user_id));
    }
    for (const l of arriving) of(l.tenantId).devices.add(deviceStreamId(l.deviceId));
    if (tenants.size === 0) return [];
    const queries = (pick: (tenantId: string, t: { users: Set<string>; devices: Set<string> }) => Omit<StreamQuery, 'tenantId'>) =>
      [...tenants].map(([tenantId, t]) => ({ tenantId, ...pick(tenantId, t) }));
    return [
      {
        ownerUrl: this.owners.authorityUrl,
        queries: queries((tenantId) => ({ streams: [tenantStreamId(tenantId)], prefixes: [configurationStreamId('')] })),
      },
      { ownerUrl: this.owners.licensingUrl, queries: queries((_, t) => ({ streams: [...t.users] })) },
      { ownerUrl: this.owners.enrollmentUrl, queries: queries((_, t) => ({ streams: [...t.devices] })) },
    ];
  }

  private async rows(hashes: string[]): Promise<Map<string, DeviceRow>> {
    const rows = await this.db.query<DeviceRow>(
      'select credential_hash, device_id, tenant_id, user_id, status from devices where credential_hash = any($1::text[])',
      [hashes],
    );
    return new Map(rows.map((r) => [r.credential_hash, r]));
  }

  /**
   * Waits until the inbox has applied the wanted versions, and reads the devices in the same
   * statement: what it returns includes everything the owners had committed when they were asked.
   */
  private async appliedAndRead(wanted: Record<string, number>, hashes: string[]): Promise<Map<string, DeviceRow>> {
    const ids = Object.keys(wanted);
    const deadline = Date.now() + this.readYourWrites.timeoutMs;
    for (;;) {
      const [{ applied, devices }] = await this.db.query<{ applied: Record<string, number>; devices: DeviceRow[] }>(
        `select (select coalesce(json_object_agg(stream_id, version), '{}') from consumed_streams where stream_id = any($1::text[])) as applied,
                (select coalesce(json_agg(d), '[]') from (select credential_hash, device_id, tenant_id, user_id, status
                   from devices where credential_hash = any($2::text[])) d) as devices`,
        [ids, hashes],
      );
      const behind = ids.filter((id) => (applied[id] ?? 0) < wanted[id]);
      if (behind.length === 0) return new Map(devices.map((r) => [r.credential_hash, r]));
      if (Date.now() > deadline) throw this.readYourWrites.lagging(behind);
      await new Promise((r) => setTimeout(r, this.readYourWrites.pollMs));
    }
  }
}
