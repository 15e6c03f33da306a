import { Injectable } from '@nestjs/common';
import { ManagingAuthority, Platform, TenantAuthority } from '@mdm/contracts/authority';
import { CompliancePolicy, DeviceFacts, Installed, MigrationState } from '@mdm/device-sync/domain';
import { Sql } from '@mdm/platform/database';
import { PendingAction } from '../ports';

export interface DeviceRow {
  device_id: string;
  tenant_id: string;
  user_id: string | null;
  platform: Platform;
  managed_by: ManagingAuthority;
  migration_state: MigrationState;
  migration_changed_at: Date | null;
  installed: Installed[];
  redundant: Installed[];
  certificate_serial: string;
  certificate_not_after: Date;
  push_token: string | null;
}

export interface AssignedConfiguration {
  configuration_id: string;
  authority: ManagingAuthority;
  name: string;
  type: Installed['type'];
  version: number;
  settings: CompliancePolicy['settings'];
}

export interface TenantRow {
  authority: TenantAuthority;
  apns_not_after: Partial<Record<ManagingAuthority, string>>;
  co_management: { enabled: boolean; workloads: Record<string, string> };
}

export interface UserRow {
  licenses: string[];
  group_ids: string[];
}

/** Everything a check-in decides on. */
export interface CheckInFactsRow extends DeviceRow {
  credential_hash: string;
  status: string;
  tenant: TenantRow | null;
  user: UserRow | null;
  configurations: AssignedConfiguration[];
  pending: PendingAction[];
}

/**
 * Reads what a batch of check-ins decides on, inside its transaction, in one statement; per device:
 * the device (found by its credential, and locked, so two check-ins of one device do not interleave),
 * its tenant, its user, both authorities' profiles (R20) and compliance policies (R25) assigned to the
 * user's groups for its platform, and its pending remote actions in queue order (R24, locked,
 * skipping any another transaction holds). Devices are locked in id order, so two batches cannot
 * deadlock. Each round trip to Postgres costs more CPU here than the statement itself.
 */
@Injectable()
export class CheckInFacts {
  async read(sql: Sql, credentialHashes: string[]): Promise<CheckInFactsRow[]> {
    return sql.query<CheckInFactsRow>(
      `with d as (
         select device_id, tenant_id, user_id, platform, status, managed_by, migration_state, migration_changed_at, installed,
                redundant, certificate_serial, certificate_not_after, credential_hash, push_token
           from devices where credential_hash = any($1::text[]) order by device_id for update)
       select d.*,
              (select row_to_json(t) from (select authority, apns_not_after, co_management from tenants where tenant_id = d.tenant_id) t) as tenant,
              (select row_to_json(u) from (select licenses, group_ids from users where user_id = d.user_id) u) as "user",
              (select coalesce(json_agg(c order by c.name, c.configuration_id), '[]')
                 from (select configuration_id, authority, name, type, version, settings from configurations
                        where tenant_id = d.tenant_id and not deleted and d.platform = any(platforms)
                          and assigned_group_ids && coalesce((select group_ids from users where user_id = d.user_id), '{}'::uuid[])) c) as configurations,
              (select coalesce(json_agg(json_build_object('commandId', a.command_id, 'type', a.type) order by a.seq), '[]')
                 from (select command_id, type, seq from actions
                        where device_id = d.device_id and tenant_id = d.tenant_id and status = 'pending'
                        order by seq for update skip locked) a) as pending
         from d`,
      [credentialHashes],
    );
  }

  toFacts(row: DeviceRow): DeviceFacts {
    return {
      deviceId: row.device_id,
      userId: row.user_id,
      platform: row.platform,
      managedBy: row.managed_by,
      migrationState: row.migration_state,
      installed: row.installed,
      redundant: row.redundant,
    };
  }
}
