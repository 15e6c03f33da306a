import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { configurationStreamId, tenantStreamId } from '@mdm/contracts/authority';
import { DomainError } from '@mdm/contracts/core';
import { CredentialLookup, credentialLookup, deviceStreamId } from '@mdm/contracts/enrollment';
import { userStreamId } from '@mdm/contracts/licensing';
import { Database, GroupCommit, unavailableDependency } from '@mdm/platform/database';
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

/** A refusal of a whole batch (an owner out of reach, the inbox lagging past its bound), or an unreachable dependency: any part of it would meet it again. */
const answersTheBatch = (error: unknown) => error instanceof DomainError || unavailableDependency(error) !== undefined;

export const unknownDevice = () => new DomainError('UNAUTHORIZED', 'unknown, unenrolled or removed device');

/**
 * A credential found here (its device's row), or not here yet but naming a device its owner knows
 * (`row` null: enrolled a moment ago, its credential's `lookup` says which, and `published` the
 * version of its device's stream enrollment answered: the catch-up waits for it without asking again).
 */
export type KnownCredential = { credential: DeviceCredential; row: DeviceRow } | { credential: DeviceCredential & { lookup: CredentialLookup }; row: null; published: number };

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
  /**
   * Every device call's first step: its credential looked up, many at a time. An unknown credential
   * is refused here, so a flood of guesses never waits in (nor holds up) the queues of real calls.
   */
  private readonly lookups = new GroupCommit<DeviceCredential, KnownCredential | undefined>((items) => this.lookUpAll(items), {
    maxBatch: 500,
    concurrency: 4,
    failsAll: answersTheBatch,
  });
  private readonly batches = new GroupCommit<KnownCredential, AuthenticatedDevice | undefined>((items, settle) => this.catchUp(items, (i) => settle(i, undefined)), {
    maxBatch: 500,
    concurrency: 2,
    failsAll: answersTheBatch,
  });

  constructor(
    private readonly db: Database,
    private readonly readYourWrites: ReadYourWrites,
    private readonly owners: DeviceStateOwners,
  ) {}

  /** The request's credential; a 401 when it has none. */
  credential(req: Request): DeviceCredential {
    const credential = DEVICE.exec(req.header('authorization') ?? '')?.[1];
    if (!credential) throw new DomainError('UNAUTHORIZED', 'expected Authorization: Device <deviceCredential>');
    return { hash: createHash('sha256').update(credential).digest('hex'), lookup: credentialLookup(credential) };
  }

  /** The active device of the request, once everything committed before it has reached this service; else a 401. */
  async authenticate(req: Request): Promise<AuthenticatedDevice> {
    const device = await this.batches.submit(await this.lookUp(this.credential(req)));
    if (!device) throw unknownDevice();
    return device;
  }

  /** The credential of an active device, or of one enrolled a moment ago; else a 401. */
  async lookUp(credential: DeviceCredential): Promise<KnownCredential> {
    const known = await this.lookups.submit(credential);
    if (!known) throw unknownDevice();
    return known;
  }

  /**
   * Credentials found here, active (unenrolled and removed are final), or not here but naming a
   * device whose owner has published its stream: one statement, and one call to enrollment when
   * some are not here and name a device.
   */
  private async lookUpAll(items: DeviceCredential[]): Promise<(KnownCredential | undefined)[]> {
    const rows = await this.rows([...new Set(items.map((c) => c.hash))]);
    const arriving = items.filter((c) => !rows.has(c.hash) && c.lookup).map((c) => c.lookup!);
    const published =
      arriving.length === 0
        ? {}
        : await this.readYourWrites.published([{ ownerUrl: this.owners.enrollmentUrl, queries: this.deviceQueries(arriving) }]);
    return items.map((credential): KnownCredential | undefined => {
      const row = rows.get(credential.hash);
      if (row) return row.status === 'active' ? { credential, row } : undefined;
      const { lookup } = credential;
      const version = lookup && published[deviceStreamId(lookup.deviceId)];
      return lookup && version !== undefined ? { credential: { ...credential, lookup }, row: null, published: version } : undefined;
    });
  }

  /**
   * A batch's devices, each once this service has applied everything its owners had committed when
   * asked (undefined: unenrolled or removed meanwhile, or never arrived). For a caller that batches
   * device calls itself (the check-in), so that a call waits in one queue, not two.
   */
  async catchUp(items: KnownCredential[], unknown: (index: number) => void = () => undefined): Promise<(AuthenticatedDevice | undefined)[]> {
    const hashes = [...new Set(items.map((k) => k.credential.hash))];
    let rows = new Map(items.flatMap((k) => (k.row ? [[k.credential.hash, k.row] as const] : [])));
    // Device streams named by a credential that is not here yet (a device enrolled a moment ago), and
    // the versions enrollment gave when the lookup asked: they are waited for, not asked for again.
    const arriving = new Map<string, CredentialLookup>();
    const answered: Record<string, number> = {};
    for (const k of items) {
      if (k.row) continue;
      arriving.set(k.credential.hash, k.credential.lookup);
      answered[deviceStreamId(k.credential.lookup.deviceId)] = k.published;
    }
    const refuse = () => items.forEach((k, i) => rows.has(k.credential.hash) || arriving.has(k.credential.hash) || unknown(i));
    // The streams asked of their owners for this batch so far: each is asked once.
    const asked = new Set(Object.keys(answered));
    for (let round = 0; round < ROUNDS; round++) {
      // A device that is no longer active here stays so: unenrolled and removed are final.
      const live = [...rows.values()].filter((r) => r.status === 'active');
      const owners = this.ask(live, [...arriving.values()], asked);
      if (owners.length === 0) break;
      const wanted = { ...answered, ...(await this.readYourWrites.published(owners)) };
      for (const [hash, lookup] of arriving) if (!(deviceStreamId(lookup.deviceId) in wanted)) arriving.delete(hash);
      refuse();
      rows = await this.appliedAndRead(wanted, hashes);
      for (const hash of arriving.keys()) if (rows.has(hash)) arriving.delete(hash);
    }
    return items.map((k) => {
      const row = rows.get(k.credential.hash);
      return row?.status === 'active' ? { deviceId: row.device_id, tenantId: row.tenant_id } : undefined;
    });
  }

  /** Enrollment's queries for these devices' streams, per tenant. */
  private deviceQueries(devices: CredentialLookup[]): StreamQuery[] {
    const byTenant = new Map<string, string[]>();
    for (const { tenantId, deviceId } of devices) byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), deviceStreamId(deviceId)]);
    return [...byTenant].map(([tenantId, streams]) => ({ tenantId, streams }));
  }

  /**
   * What to ask each owner for: the streams of these devices' tenants (with their configurations),
   * users and devices not asked for yet, which are then marked `asked`. A device that arrived in the
   * first round adds only its user in the second.
   */
  private ask(live: DeviceRow[], arriving: CredentialLookup[], asked: Set<string>): OwnerQuery[] {
    const tenants = new Map<string, { tenant: string[]; users: Set<string>; devices: Set<string> }>();
    const want = (tenantId: string, kind: 'users' | 'devices' | 'tenant', stream: string) => {
      if (asked.has(stream)) return;
      asked.add(stream);
      let t = tenants.get(tenantId);
      if (!t) tenants.set(tenantId, (t = { tenant: [], users: new Set(), devices: new Set() }));
      if (kind === 'tenant') t.tenant.push(stream);
      else t[kind].add(stream);
    };
    for (const r of live) {
      want(r.tenant_id, 'tenant', tenantStreamId(r.tenant_id));
      want(r.tenant_id, 'devices', deviceStreamId(r.device_id));
      if (r.user_id) want(r.tenant_id, 'users', userStreamId(r.user_id));
    }
    for (const l of arriving) {
      want(l.tenantId, 'tenant', tenantStreamId(l.tenantId));
      want(l.tenantId, 'devices', deviceStreamId(l.deviceId));
    }
    const owner = (ownerUrl: string, pick: (t: { tenant: string[]; users: Set<string>; devices: Set<string> }) => Omit<StreamQuery, 'tenantId'>) => ({
      ownerUrl,
      queries: [...tenants].map(([tenantId, t]) => ({ tenantId, ...pick(t) })).filter((q) => (q.streams?.length ?? 0) + (q.prefixes?.length ?? 0) > 0),
    });
    return [
      owner(this.owners.authorityUrl, (t) => ({ streams: t.tenant, prefixes: t.tenant.length > 0 ? [configurationStreamId('')] : [] })),
      owner(this.owners.licensingUrl, (t) => ({ streams: [...t.users] })),
      owner(this.owners.enrollmentUrl, (t) => ({ streams: [...t.devices] })),
    ].filter((o) => o.queries.length > 0);
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
  private appliedAndRead(wanted: Record<string, number>, hashes: string[]): Promise<Map<string, DeviceRow>> {
    return this.readYourWrites.untilApplied(wanted, async () => {
      const [{ applied, devices }] = await this.db.query<{ applied: Record<string, number>; devices: DeviceRow[] }>(
        `select (select coalesce(json_object_agg(stream_id, version), '{}') from consumed_streams where stream_id = any($1::text[])) as applied,
                (select coalesce(json_agg(d), '[]') from (select credential_hash, device_id, tenant_id, user_id, status
                   from devices where credential_hash = any($2::text[])) d) as devices`,
        [Object.keys(wanted), hashes],
      );
      return { applied, seen: new Map(devices.map((r) => [r.credential_hash, r])) };
    });
  }
}
