import { AuthorityChanged } from '@mdm/contracts/authority';
import { TypedEnvelope } from '@mdm/contracts/core';
import { RemoteActionType } from '@mdm/contracts/device-sync';
import { UserAuthorityChanged } from '@mdm/contracts/licensing';
import { Sql } from '@mdm/platform/database';

export type NotificationReason = 'authorityChanged' | 'userAuthorityChanged' | 'sync' | 'remoteAction';
export type TenantAuthorityChange = TypedEnvelope<typeof AuthorityChanged>;
export type UserAuthorityChange = TypedEnvelope<typeof UserAuthorityChanged>;

/**
 * R16/R17: the check-in fan-out. Called in the inbox transaction of the authority change, after the
 * facts (tenant authority, user licenses) were updated, and with the devices it marks locked already
 * (FactsConsumer.lockDevices: one lock order for everything the transaction updates).
 */
export abstract class FanOutPort {
  abstract tenantChanged(sql: Sql, event: TenantAuthorityChange): Promise<void>;
  /** A batch of user changes, in their order (a tenant's authority change moves all its users at once). */
  abstract usersChanged(sql: Sql, events: UserAuthorityChange[]): Promise<void>;
}

/** Queues a notification for devices (durably, in `sql`) and wakes their long polls once committed. */
export abstract class NotifierPort {
  abstract notify(sql: Sql, devices: { deviceId: string; tenantId: string }[], reason: NotificationReason): Promise<void>;
}

export interface PendingAction {
  commandId: string;
  type: RemoteActionType;
}

/** R24: remote actions as a check-in sees them. */
export abstract class ActionsPort {
  /** The device's pending actions (read and locked with the check-in's facts), now `sent`, to hand over in the answer. */
  abstract deliver(sql: Sql, device: { deviceId: string; tenantId: string }, pending: PendingAction[]): Promise<PendingAction[]>;
  /** The device's results for actions it was sent: `done` or `failed`. */
  abstract applyResults(
    sql: Sql,
    device: { deviceId: string; tenantId: string },
    results: { commandId: string; status: 'done' | 'failed'; error?: string }[],
  ): Promise<void>;
}
