import { Injectable } from '@nestjs/common';
import { ManagingAuthority, Platform, TenantAuthority } from '@mdm/contracts/authority';
import { DeviceFacts, HeldPolicy, Installed, MigrationState } from '@mdm/device-sync/domain';
import { configurationOrder } from '@mdm/contracts/device-sync';
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
  /** The answer's lists as JSON text (DeviceAnswerLists), null until written. */
  answer_lists: string | null;
  certificate_serial: string;
  certificate_not_after: Date;
  /** The assignment the device was last given (assignmentKey), and the compliance policies that came with it. */
  assignment_key: string | null;
  policies: HeldPolicy[];
  push_token: string | null;
}

/** What an authority assigns a device (R20, R25): its profiles and its compliance policies. */
export interface Assigned {
  profiles: Installed[];
  policies: HeldPolicy[];
}

export interface TenantRow {
  authority: TenantAuthority;
  assignments_version: string;
  apns_not_after: Partial<Record<ManagingAuthority, string>>;
  co_management: { enabled: boolean; workloads: Record<string, string> };
}

export interface UserRow {
  licenses: string[];
  group_ids: string[];
  group_version: string;
}

/** The configurations a device has, and those left behind by an authority it left (R21). */
export interface DeviceLists {
  installed: Installed[];
  redundant: Installed[];
}

/** Everything a check-in decides on, but its lists (read apart, only when they may change: `lists`). */
export interface CheckInFactsRow extends DeviceRow {
  credential_hash: string;
  status: string;
  tenant: TenantRow | null;
  user: UserRow | null;
  pending: PendingAction[];
}

/**
 * Reads what a batch of check-ins decides on, inside its transaction, in one statement; per device:
 * the device (found by its credential, and locked, so two check-ins of one device do not interleave)
 * with the configurations and policies it was last given, its tenant, its user, and its pending
 * remote actions in queue order (R24, locked, skipping any another transaction holds). Devices are
 * locked in id order, so two batches cannot deadlock. The configurations assigned to it are read
 * (`assigned`) only for the devices whose assignment moved since their last check-in, and the lists
 * it has (`lists`) only for the devices whose check-in may change them.
 */
@Injectable()
export class CheckInFacts {
  async read(sql: Sql, credentialHashes: string[]): Promise<CheckInFactsRow[]> {
    return sql.query<CheckInFactsRow>(
      `with d as (
         select device_id, tenant_id, user_id, platform, status, managed_by, migration_state, migration_changed_at, answer_lists,
                certificate_serial, certificate_not_after, credential_hash, assignment_key, policies, push_token
           from devices where credential_hash = any($1::text[]) order by device_id for update)
       select d.*,
              (select row_to_json(t) from (select authority, assignments_version::text, apns_not_after, co_management
                                             from tenants where tenant_id = d.tenant_id) t) as tenant,
              (select row_to_json(u) from (select licenses, group_ids, group_version::text from users where user_id = d.user_id) u) as "user",
              (select coalesce(json_agg(json_build_object('commandId', a.command_id, 'type', a.type) order by a.seq), '[]')
                 from (select command_id, type, seq from actions
                        where device_id = d.device_id and tenant_id = d.tenant_id and status = 'pending'
                        order by seq for update skip locked) a) as pending
         from d`,
      [credentialHashes],
    );
  }

  /** R20/R21: the lists of these devices (locked already by `read`, in the same transaction). */
  async lists(sql: Sql, deviceIds: string[]): Promise<Map<string, DeviceLists>> {
    if (deviceIds.length === 0) return new Map();
    const rows = await sql.query<DeviceLists & { device_id: string }>(
      'select device_id, installed, redundant from devices where device_id = any($1::uuid[])',
      [deviceIds],
    );
    return new Map(rows.map(({ device_id, installed, redundant }) => [device_id, { installed, redundant }]));
  }

  /**
   * R20/R25: per device, the profiles and compliance policies of `authority` assigned to its user's
   * groups for its platform, for a batch of devices in one statement.
   */
  async assigned(sql: Sql, devices: { row: DeviceRow; authority: ManagingAuthority }[]): Promise<Map<string, Assigned>> {
    if (devices.length === 0) return new Map();
    const rows = await sql.query<{ device_id: string; items: (Installed & { settings: HeldPolicy['settings'] })[] }>(
      `select x.device_id,
              (select coalesce(json_agg(json_build_object('configurationId', c.configuration_id, 'name', c.name, 'type', c.type,
                                                          'authority', c.authority, 'version', c.version, 'settings', c.settings)), '[]')
                 from configurations c
                where c.tenant_id = x.tenant_id and not c.deleted and c.authority = x.authority and x.platform = any(c.platforms)
                  and c.assigned_group_ids && coalesce((select group_ids from users where user_id = x.user_id), '{}'::uuid[])) as items
         from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[]) as x(device_id, tenant_id, user_id, platform, authority)`,
      [
        devices.map((d) => d.row.device_id),
        devices.map((d) => d.row.tenant_id),
        devices.map((d) => d.row.user_id),
        devices.map((d) => d.row.platform),
        devices.map((d) => d.authority),
      ],
    );
    return new Map(
      rows.map(({ device_id, items }) => [
        device_id,
        {
          profiles: items
            .filter((c) => c.type !== 'compliance')
            .map(({ configurationId, name, type, authority, version }) => ({ configurationId, name, type, authority, version }))
            .sort(configurationOrder),
          policies: items.filter((c) => c.type === 'compliance').map(({ configurationId, settings }) => ({ configurationId, settings })),
        },
      ]),
    );
  }

  toFacts(row: DeviceRow): Omit<DeviceFacts, keyof DeviceLists> {
    return { deviceId: row.device_id, userId: row.user_id, platform: row.platform, managedBy: row.managed_by, migrationState: row.migration_state };
  }
}
