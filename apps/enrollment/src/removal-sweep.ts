import { Injectable, OnModuleInit } from '@nestjs/common';
import { REMOVAL_AFTER_EXPIRY_MS, deviceStreamId } from '@mdm/contracts/enrollment';
import { Database, sweepInBatches } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { Sweeps } from '@mdm/platform/http';

const BATCH = 500;

/**
 * R15: a device that stopped checking in is removed 180 days after its MDM certificate expired.
 * Runs when the clock moves; one replica at a time (transaction advisory lock), in batches.
 */
@Injectable()
export class RemovalSweep implements OnModuleInit {
  constructor(
    private readonly sweeps: Sweeps,
    private readonly db: Database,
    private readonly store: EventStore,
  ) {}

  onModuleInit(): void {
    this.sweeps.add('mdm-certificate-expiry', (now) => this.run(now));
  }

  async run(now: Date): Promise<void> {
    const cutoff = new Date(now.getTime() - REMOVAL_AFTER_EXPIRY_MS);
    await sweepInBatches(this.db, 'removal', BATCH, async (sql) => {
      const due = await sql.query<{ device_id: string; tenant_id: string }>(
        `update devices set status = 'removed'
          where device_id in (select device_id from devices where status = 'active' and certificate_not_after <= $1
                               order by certificate_not_after limit $2 for update skip locked)
          returning device_id, tenant_id`,
        [cutoff, BATCH],
      );
      await this.store.appendToStreams(
        due.map((d) => ({
          streamId: deviceStreamId(d.device_id),
          events: [{ type: 'DeviceRemoved', data: { deviceId: d.device_id, reason: 'mdm-certificate-expired' } }],
          opts: { tenantId: d.tenant_id, actor: 'system' },
        })),
        sql,
      );
      return due.length;
    });
  }
}
