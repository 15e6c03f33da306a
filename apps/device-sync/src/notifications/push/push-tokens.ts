import { Injectable } from '@nestjs/common';
import { Platform, PushProviderName, pushProviderOf } from '@mdm/contracts/authority';
import { syncStreamId } from '@mdm/contracts/device-sync';
import { Database, Sql } from '@mdm/platform/database';
import { EventStore, NewEvent } from '@mdm/platform/event-store';

/**
 * R16: each device's push token. The token given at enrollment arrives with DeviceEnrolled; a
 * check-in may report a new one; the dispatcher clears one its provider calls dead. Every change is
 * an event on the device's sync stream, written with the column, so the views and device-sync agree.
 */
@Injectable()
export class PushTokens {
  constructor(
    private readonly db: Database,
    private readonly store: EventStore,
  ) {}

  /**
   * At check-in, inside its transaction, with the device as the check-in read and locked it: records
   * a reported token that differs from the stored one and answers the event for the check-in to
   * append. The same token again costs nothing.
   */
  async atCheckIn(
    sql: Sql,
    device: { device_id: string; platform: Platform; push_token: string | null },
    reported: string | undefined,
  ): Promise<NewEvent[]> {
    if (reported === undefined || reported === device.push_token) return [];
    await sql.query('update devices set push_token = $2 where device_id = $1', [device.device_id, reported]);
    return [{ type: 'PushTokenRegistered', data: { deviceId: device.device_id, provider: pushProviderOf(device.platform), token: reported } }];
  }

  /**
   * The provider answered that `token` is dead: clears it, unless the device has reported another
   * since (that one is alive as far as anyone knows). Answers whether it was cleared.
   */
  async clear(deviceId: string, token: string, provider: PushProviderName, status: number): Promise<boolean> {
    return this.db.transaction(async (sql) => {
      const [row] = await sql.query<{ tenant_id: string }>(
        'update devices set push_token = null where device_id = $1 and push_token = $2 returning tenant_id',
        [deviceId, token],
      );
      if (!row) return false;
      await this.store.append(
        syncStreamId(deviceId),
        [{ type: 'PushTokenCleared', data: { deviceId, provider, reason: 'unregistered', status } }],
        { expectedVersion: 'any', tenantId: row.tenant_id, actor: `push:${provider}` },
        sql,
      );
      return true;
    });
  }
}
