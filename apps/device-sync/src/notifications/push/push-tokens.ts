import { Inject, Injectable } from '@nestjs/common';
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
    @Inject(Database) private readonly db: Database,
    @Inject(EventStore) private readonly store: EventStore,
  ) {}

  /**
   * At check-in, inside its transaction (the device row is locked by the check-in's read): records a
   * reported token that differs from the stored one and answers the event for the check-in to append.
   */
  async atCheckIn(sql: Sql, device: { deviceId: string; platform: Platform }, reported: string | undefined): Promise<NewEvent[]> {
    if (reported === undefined) return [];
    const changed = await sql.query(
      'update devices set push_token = $2 where device_id = $1 and push_token is distinct from $2 returning device_id',
      [device.deviceId, reported],
    );
    if (changed.length === 0) return [];
    return [{ type: 'PushTokenRegistered', data: { deviceId: device.deviceId, provider: pushProviderOf(device.platform), token: reported } }];
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
