import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { notFound } from '@mdm/contracts/core';
import { RemoteActionType, actionSchema, remoteActionStatusSchema, syncStreamId } from '@mdm/contracts/device-sync';
import { Clock } from '@mdm/platform/clock';
import { Database, Sql } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { CLOCK } from '@mdm/platform/http';
import { ActionsPort, NotifierPort, PendingAction } from '../ports';

export type RemoteActionStatus = z.infer<typeof remoteActionStatusSchema>;
export type ActionView = z.infer<typeof actionSchema>;

interface DeviceRef {
  deviceId: string;
  tenantId: string;
}

interface ActionRow {
  command_id: string;
  type: RemoteActionType;
  status: RemoteActionStatus;
  error: string | null;
  updated_at: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * R24: remote actions. An admin or helpdesk user queues one (`pending`), the device's next check-in
 * hands it over (`sent`), and the device reports its outcome in a later check-in (`done` | `failed`).
 * Every transition writes the `actions` row and appends to the device's sync stream in one transaction.
 */
@Injectable()
export class ActionsService extends ActionsPort {
  constructor(
    private readonly db: Database,
    private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly notifier: NotifierPort,
  ) {
    super();
  }

  /** Queues an action for an active device of the tenant (another tenant's device is a 404, §4). */
  async queue(tenantId: string, deviceId: string, type: RemoteActionType, actor: string) {
    const commandId = randomUUID();
    await this.db.transaction(async (sql) => {
      // A share lock: an unenrollment or removal landing meanwhile waits for this action (or sees it).
      const [device] = await sql.query(
        `select device_id from devices where device_id = $1 and tenant_id = $2 and status = 'active' for share`,
        [deviceId, tenantId],
      );
      if (!device) throw notFound('device');
      const now = this.clock.now();
      await sql.query(
        `insert into actions (command_id, device_id, tenant_id, type, status, created_at, updated_at)
         values ($1, $2, $3, $4, 'pending', $5, $5)`,
        [commandId, deviceId, tenantId, type, now],
      );
      await this.store.append(
        syncStreamId(deviceId),
        [{ type: 'RemoteActionQueued', data: { commandId, deviceId, type } }],
        { expectedVersion: 'any', tenantId, actor },
        sql,
      );
      // R24: `sync` sends a notification; the others do too, so the device checks in soon to get them.
      await this.notifier.notify(sql, [{ deviceId, tenantId }], type === 'sync' ? 'sync' : 'remoteAction');
    });
    return { commandId, type, status: 'pending' as const };
  }

  async get(tenantId: string, deviceId: string, commandId: string): Promise<ActionView> {
    const [row] = await this.db.query<ActionRow>(
      `select command_id, type, status, error, updated_at from actions where command_id = $1 and device_id = $2 and tenant_id = $3`,
      [commandId, deviceId, tenantId],
    );
    if (!row) throw notFound('action');
    return {
      commandId: row.command_id,
      type: row.type,
      status: row.status,
      updatedAt: row.updated_at.toISOString(),
      ...(row.error !== null && { error: row.error }),
    };
  }

  /**
   * The device's pending actions, oldest first, now `sent` (in the check-in's transaction). Actions
   * keep the order they were queued in (seq);
   * rows another check-in of the same device holds are skipped: that one delivers them.
   */
  async deliver(sql: Sql, device: DeviceRef, pending: PendingAction[]): Promise<PendingAction[]> {
    if (pending.length === 0) return [];
    await sql.query(`update actions set status = 'sent', updated_at = $2 where command_id = any($1::uuid[])`, [
      pending.map((p) => p.commandId),
      this.clock.now(),
    ]);
    await this.store.append(
      syncStreamId(device.deviceId),
      pending.map((p) => ({
        type: 'RemoteActionStatusChanged',
        data: { commandId: p.commandId, deviceId: device.deviceId, type: p.type, status: 'sent', error: null },
      })),
      { expectedVersion: 'any', tenantId: device.tenantId, actor: deviceActor(device.deviceId) },
      sql,
    );
    return pending;
  }

  /**
   * A device's results: each one for an action of this device that is `sent` moves it to `done` or
   * `failed` (with the error; `done` keeps none). Anything else — an unknown command, another
   * device's or tenant's, an action still `pending` or already finished, a repeated result — is
   * ignored: a device retrying or lying must never make its check-in fail. The first result per
   * command counts.
   */
  async applyResults(
    sql: Sql,
    device: DeviceRef,
    results: { commandId: string; status: 'done' | 'failed'; error?: string }[],
  ): Promise<void> {
    const seen = new Set<string>();
    const wanted = results.filter((r) => {
      const id = r.commandId?.toLowerCase();
      if (!id || !UUID.test(id) || seen.has(id) || (r.status !== 'done' && r.status !== 'failed')) return false;
      seen.add(id);
      return true;
    });
    if (wanted.length === 0) return;
    const changed = await sql.query<{ command_id: string; type: RemoteActionType; status: 'done' | 'failed'; error: string | null }>(
      `update actions a
          set status = r.status, error = case when r.status = 'failed' then r.error end, updated_at = $3
         from unnest($4::uuid[], $5::text[], $6::text[]) as r(command_id, status, error)
        where a.command_id = r.command_id and a.device_id = $1 and a.tenant_id = $2 and a.status = 'sent'
        returning a.command_id, a.type, a.status, a.error`,
      [
        device.deviceId,
        device.tenantId,
        this.clock.now(),
        wanted.map((r) => r.commandId.toLowerCase()),
        wanted.map((r) => r.status),
        wanted.map((r) => r.error ?? null),
      ],
    );
    if (changed.length === 0) return;
    // Events in the order the device reported its results.
    const order = new Map(wanted.map((r, i) => [r.commandId.toLowerCase(), i]));
    changed.sort((a, b) => order.get(a.command_id)! - order.get(b.command_id)!);
    await this.store.append(
      syncStreamId(device.deviceId),
      changed.map((c) => ({
        type: 'RemoteActionStatusChanged',
        data: { commandId: c.command_id, deviceId: device.deviceId, type: c.type, status: c.status, error: c.error },
      })),
      { expectedVersion: 'any', tenantId: device.tenantId, actor: deviceActor(device.deviceId) },
      sql,
    );
  }
}

/** Transitions a check-in makes are the device's doing. */
const deviceActor = (deviceId: string) => `device:${deviceId}`;
