import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { syncStreamId } from '@mdm/contracts/device-sync';
import { Installed, LEGACY_PROFILE_DAYS } from '@mdm/device-sync/domain';
import { Database } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { ServiceRuntime } from '@mdm/platform/http';

const BATCH = 500;
/** R23: the profile types that linger on a device that has not checked in since the change. */
const LEGACY_TYPES = ['email', 'vpn', 'certificate', 'wifi', 'configuration'];

/**
 * R23: a device told to move that has not checked in for 7 days loses the old authority's profiles
 * (LegacyProfilesExpired) and is reported unprotected until it checks in. One replica at a time.
 */
@Injectable()
export class LegacyProfilesSweep implements OnModuleInit {
  constructor(
    @Inject(ServiceRuntime) private readonly runtime: ServiceRuntime,
    @Inject(Database) private readonly db: Database,
    @Inject(EventStore) private readonly store: EventStore,
  ) {}

  onModuleInit(): void {
    this.runtime.addSweep('legacy-profiles', (now) => this.run(now));
  }

  async run(now: Date): Promise<number> {
    const cutoff = new Date(now.getTime() - LEGACY_PROFILE_DAYS * 86_400_000);
    let expired = 0;
    for (;;) {
      const count = await this.db.transaction(async (sql) => {
        const [{ locked }] = await sql.query<{ locked: boolean }>(`select pg_try_advisory_xact_lock(hashtext(current_schema() || ':legacy')) locked`);
        if (!locked) return 0;
        const due = await sql.query<{ device_id: string; tenant_id: string; installed: Installed[] }>(
          `select device_id, tenant_id, installed from devices
            where status = 'active' and migration_state in ('pendingCheckIn', 'blockedApns') and migration_changed_at <= $1
            order by migration_changed_at limit $2 for update skip locked`,
          [cutoff, BATCH],
        );
        for (const d of due) {
          const items = d.installed.filter((i) => LEGACY_TYPES.includes(i.type));
          await this.store.append(
            syncStreamId(d.device_id),
            [{ type: 'LegacyProfilesExpired', data: { deviceId: d.device_id, items } }],
            { expectedVersion: 'any', tenantId: d.tenant_id, actor: 'system' },
            sql,
          );
        }
        await sql.query(
          `update devices set migration_state = 'legacyProfilesExpired',
                  installed = (select coalesce(jsonb_agg(i), '[]') from jsonb_array_elements(installed) i where not (i->>'type' = any($2::text[])))
            where device_id = any($1::uuid[])`,
          [due.map((d) => d.device_id), LEGACY_TYPES],
        );
        return due.length;
      });
      expired += count;
      if (count < BATCH) return expired;
    }
  }
}
