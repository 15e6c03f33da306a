import { Injectable, OnModuleInit } from '@nestjs/common';
import { ManagingAuthority, TenantAuthority } from '@mdm/contracts/authority';
import { LEGACY_PROFILE_TYPES, syncStreamId } from '@mdm/contracts/device-sync';
import { effectiveAuthority } from '@mdm/contracts/licensing';
import { Installed } from '@mdm/device-sync/domain';
import { Database, sweepInBatches } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { Sweeps } from '@mdm/platform/http';

const BATCH = 500;

/**
 * R23: a device told to move that has not checked in for 7 days loses the old authority's profiles
 * (LegacyProfilesExpired) and is reported unprotected until it checks in. A device that was told to
 * check in but keeps its authority (its user's effective authority, R8, is the one it has: a user
 * without an Intune license when the tenant goes to coexistence) has no old authority's profiles and
 * loses nothing. One replica at a time.
 */
@Injectable()
export class LegacyProfilesSweep implements OnModuleInit {
  constructor(
    private readonly sweeps: Sweeps,
    private readonly db: Database,
    private readonly store: EventStore,
  ) {}

  onModuleInit(): void {
    this.sweeps.add('legacy-profiles', (now) => this.run(now));
  }

  async run(now: Date): Promise<void> {
    await sweepInBatches(this.db, 'legacy', BATCH, async (sql) => {
      const due = await sql.query<DueDevice>(
        `select d.device_id, d.tenant_id, d.managed_by, d.installed, coalesce(t.authority, 'unknown') as tenant_authority,
                coalesce(u.licenses, '{}') as licenses
           from devices d left join tenants t on t.tenant_id = d.tenant_id left join users u on u.user_id = d.user_id
          where d.status = 'active' and d.legacy_due_at <= $1
          order by d.legacy_due_at limit $2 for update of d skip locked`,
        [now, BATCH],
      );
      const moving = due.flatMap((d) => {
        const target = effectiveAuthority(d.tenant_authority, d.licenses);
        if (target === d.managed_by) return [];
        const old = (i: Installed) => LEGACY_PROFILE_TYPES.includes(i.type) && i.authority !== target;
        return [{ ...d, items: d.installed.filter(old), kept: d.installed.filter((i) => !old(i)) }];
      });
      await this.store.appendToStreams(
        moving.map((d) => ({
          streamId: syncStreamId(d.device_id),
          events: [{ type: 'LegacyProfilesExpired', data: { deviceId: d.device_id, items: d.items } }],
          opts: { tenantId: d.tenant_id, actor: 'system' },
        })),
        sql,
      );
      await sql.query(
        `update devices x set legacy_due_at = null,
                migration_state = case when r.installed is null then x.migration_state else 'legacyProfilesExpired' end,
                installed = coalesce(r.installed, x.installed),
                answer_lists = case when r.installed is null then x.answer_lists end
           from unnest($1::uuid[]) as d(device_id) left join unnest($2::uuid[], $3::jsonb[]) as r(device_id, installed) using (device_id)
          where x.device_id = d.device_id`,
        [due.map((d) => d.device_id), moving.map((d) => d.device_id), moving.map((d) => JSON.stringify(d.kept))],
      );
      return due.length;
    });
  }
}

interface DueDevice {
  device_id: string;
  tenant_id: string;
  managed_by: ManagingAuthority;
  installed: Installed[];
  tenant_authority: TenantAuthority;
  licenses: string[];
}
