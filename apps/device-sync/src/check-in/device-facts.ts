import { Injectable } from '@nestjs/common';
import { ManagingAuthority, Platform, TenantAuthority } from '@mdm/contracts/authority';
import { CompliancePolicy, DeviceFacts, Installed, MigrationState } from '@mdm/device-sync/domain';
import { Sql } from '@mdm/platform/database';

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

/** Reads what a check-in decides on, inside its transaction. */
@Injectable()
export class CheckInFacts {
  /** The device row, locked: two check-ins of one device do not interleave. */
  async device(sql: Sql, deviceId: string): Promise<DeviceRow> {
    const [row] = await sql.query<DeviceRow>(
      `select device_id, tenant_id, user_id, platform, managed_by, migration_state, migration_changed_at, installed, redundant,
              certificate_serial, certificate_not_after
         from devices where device_id = $1 for update`,
      [deviceId],
    );
    return row;
  }

  async tenant(sql: Sql, tenantId: string): Promise<TenantRow> {
    const [row] = await sql.query<TenantRow>('select authority, apns_not_after, co_management from tenants where tenant_id = $1', [tenantId]);
    return row ?? { authority: 'unknown', apns_not_after: {}, co_management: { enabled: false, workloads: {} } };
  }

  async user(sql: Sql, userId: string): Promise<{ licenses: string[]; group_ids: string[] }> {
    const [row] = await sql.query<{ licenses: string[]; group_ids: string[] }>('select licenses, group_ids from users where user_id = $1', [
      userId,
    ]);
    return row ?? { licenses: [], group_ids: [] };
  }

  /** Both authorities' profiles (R20) and compliance policies (R25) assigned to these groups for this platform. */
  async configurations(sql: Sql, tenantId: string, groupIds: string[], platform: Platform): Promise<AssignedConfiguration[]> {
    return sql.query<AssignedConfiguration>(
      `select configuration_id, authority, name, type, version, settings from configurations
        where tenant_id = $1 and not deleted and assigned_group_ids && $2::uuid[] and $3 = any(platforms)
        order by name, configuration_id`,
      [tenantId, groupIds, platform],
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
