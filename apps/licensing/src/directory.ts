import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { ManagingAuthority, Platform, TenantAuthority } from '@mdm/contracts/authority';
import { notFound } from '@mdm/contracts/core';
import { PreviewDevice, PreviewTenant, UserState } from '@mdm/licensing/domain';
import { Database, Sql } from '@mdm/platform/database';
import { SERVICE_CONFIG, decodeCursor, paged } from '@mdm/platform/http';
import { ReadYourWrites } from '@mdm/platform/inbox';
import { AUTHORITY_PREFIXES, LicensingConfig } from './licensing.definition';

interface UserRow {
  user_id: string;
  user_principal_name: string;
  display_name: string | null;
  group_ids: string[];
  licenses: string[];
  effective_authority: ManagingAuthority | null;
  version: number;
}

const USER_COLUMNS = `user_id, user_principal_name, display_name, group_ids::text[] as group_ids, licenses,
                      effective_authority, version`;

/** Where a page of users or groups ended: the lower-cased name, then the id (names of groups repeat). */
const nameIdKey = z.tuple([z.string(), z.string().uuid()]);

const toUser = (r: UserRow): { state: UserState; version: number } => ({
  state: {
    exists: true,
    userId: r.user_id,
    userPrincipalName: r.user_principal_name,
    displayName: r.display_name,
    groupIds: r.group_ids,
    licenses: r.licenses,
    effectiveAuthority: r.effective_authority,
  },
  version: r.version,
});

/**
 * The licensing service's read tables: users and groups (its own, projected in the transaction that
 * appends their events) and what it learnt of tenants, configurations and devices from events.
 * Every method but catchUp takes the Sql to run on, so that a command or an inbox handler reads and
 * writes in its own transaction.
 */
@Injectable()
export class Directory {
  constructor(
    readonly db: Database,
    @Inject(SERVICE_CONFIG) private readonly config: LicensingConfig,
    private readonly readYourWrites: ReadYourWrites,
  ) {}

  /**
   * Read-your-writes with the authority service (API.md: a command that returned 2xx is visible to
   * every later command): before a licensing command, wait until these tables hold every tenant and
   * configuration event the authority service has published for the tenant, so a license assigned
   * right after an authority change or a new configuration sees it.
   */
  catchUp(tenantId: string): Promise<void> {
    return this.readYourWrites.catchUp(this.config.AUTHORITY_URL, tenantId, AUTHORITY_PREFIXES);
  }

  /**
   * The tenant as far as licensing decisions go (404 when no TenantCreated arrived). `lock` takes a
   * share lock on the row: an AuthorityChanged being applied (which updates the row, then recomputes
   * every user) and a license command then never interleave, so neither decides on a stale authority.
   */
  async tenant(sql: Sql, tenantId: string, lock = false): Promise<PreviewTenant> {
    const [row] = await sql.query<{ authority: TenantAuthority; apns_not_after: PreviewTenant['apnsNotAfter'] }>(
      `select authority, apns_not_after from tenants where tenant_id = $1${lock ? ' for share' : ''}`,
      [tenantId],
    );
    if (!row) throw notFound('tenant');
    const groups = await sql.query<{ group_id: string }>(
      `select distinct unnest(assigned_group_ids)::text as group_id from configurations
        where tenant_id = $1 and authority = 'intune' and not deleted`,
      [tenantId],
    );
    return {
      authority: row.authority,
      apnsNotAfter: row.apns_not_after,
      intuneConfiguredGroupIds: new Set(groups.map((g) => g.group_id)),
    };
  }

  /** Those of the ids that are groups of the tenant. */
  async knownGroups(sql: Sql, tenantId: string, groupIds: readonly string[]): Promise<Set<string>> {
    if (groupIds.length === 0) return new Set();
    const rows = await sql.query<{ group_id: string }>(
      'select group_id::text from groups where tenant_id = $1 and group_id = any($2::uuid[])',
      [tenantId, groupIds],
    );
    return new Set(rows.map((r) => r.group_id));
  }

  async insertGroup(sql: Sql, tenantId: string, group: { groupId: string; name: string }): Promise<void> {
    await sql.query('insert into groups (group_id, tenant_id, name) values ($1, $2, $3)', [group.groupId, tenantId, group.name]);
  }

  async principalNameTaken(sql: Sql, tenantId: string, userPrincipalName: string): Promise<boolean> {
    const rows = await sql.query('select 1 from users where tenant_id = $1 and lower(user_principal_name) = lower($2)', [
      tenantId,
      userPrincipalName,
    ]);
    return rows.length > 0;
  }

  async user(sql: Sql, tenantId: string, userId: string): Promise<{ state: UserState; version: number } | undefined> {
    const [row] = await sql.query<UserRow>(`select ${USER_COLUMNS} from users where tenant_id = $1 and user_id = $2`, [tenantId, userId]);
    return row && toUser(row);
  }

  async users(sql: Sql, tenantId: string): Promise<{ state: UserState; version: number }[]> {
    const rows = await sql.query<UserRow>(`select ${USER_COLUMNS} from users where tenant_id = $1 order by created_at, user_id`, [tenantId]);
    return rows.map(toUser);
  }

  /**
   * A page of the tenant's users by principal name (case aside; unique per tenant), each with its
   * enrolled devices counted. `q` is a principal name prefix, `groupId` keeps a group's members.
   */
  async listUsers(tenantId: string, query: { limit: number; cursor?: string; q?: string; groupId?: string }) {
    const [afterName, afterId] = decodeCursor(query.cursor, nameIdKey) ?? [null, null];
    const rows = await this.db.query<UserRow & { device_count: number; sort_key: string }>(
      `select ${USER_COLUMNS}, lower(u.user_principal_name) as sort_key,
              (select count(*)::int from devices d where d.tenant_id = u.tenant_id and d.user_id = u.user_id and d.active) as device_count
         from users u
        where u.tenant_id = $1
          and ($2::text is null or (lower(u.user_principal_name), u.user_id) > ($2, $3::uuid))
          and ($4::text is null or starts_with(lower(u.user_principal_name), lower($4)))
          and ($5::uuid is null or u.group_ids @> array[$5::uuid])
        order by lower(u.user_principal_name), u.user_id
        limit $6`,
      [tenantId, afterName, afterId, query.q ?? null, query.groupId ?? null, query.limit + 1],
    );
    return paged(
      rows,
      query.limit,
      (r) => {
        const { exists: _exists, ...user } = toUser(r).state;
        return { ...user, deviceCount: r.device_count };
      },
      (r) => [r.sort_key, r.user_id],
    );
  }

  /** A page of the tenant's groups by name, each with its member count. */
  async listGroups(tenantId: string, query: { limit: number; cursor?: string }) {
    const [afterName, afterId] = decodeCursor(query.cursor, nameIdKey) ?? [null, null];
    const rows = await this.db.query<{ group_id: string; name: string; sort_key: string; member_count: number }>(
      `select g.group_id::text, g.name, lower(g.name) as sort_key,
              (select count(*)::int from users u where u.tenant_id = g.tenant_id and u.group_ids @> array[g.group_id]) as member_count
         from groups g
        where g.tenant_id = $1 and ($2::text is null or (lower(g.name), g.group_id) > ($2, $3::uuid))
        order by lower(g.name), g.group_id
        limit $4`,
      [tenantId, afterName, afterId, query.limit + 1],
    );
    return paged(
      rows,
      query.limit,
      (r) => ({ groupId: r.group_id, name: r.name, memberCount: r.member_count }),
      (r) => [r.sort_key, r.group_id],
    );
  }

  /** The inline projection of a user's stream, at the stream version just appended. */
  async saveUser(sql: Sql, tenantId: string, user: UserState, version: number): Promise<void> {
    await sql.query(
      `insert into users (user_id, tenant_id, user_principal_name, display_name, group_ids, licenses, effective_authority, version)
       values ($1, $2, $3, $4, $5::uuid[], $6::text[], $7, $8)
       on conflict (user_id) do update
         set group_ids = excluded.group_ids, licenses = excluded.licenses, display_name = excluded.display_name,
             effective_authority = excluded.effective_authority, version = excluded.version, updated_at = now()`,
      [user.userId, tenantId, user.userPrincipalName, user.displayName, user.groupIds, user.licenses, user.effectiveAuthority, version],
    );
  }

  /** The ids of the user's enrolled (active) devices. */
  async devicesOf(sql: Sql, tenantId: string, userId: string): Promise<string[]> {
    const rows = await sql.query<{ device_id: string }>(
      'select device_id::text from devices where tenant_id = $1 and user_id = $2 and active order by enrolled_at, device_id',
      [tenantId, userId],
    );
    return rows.map((r) => r.device_id);
  }

  /** Every enrolled (active) device of the tenant. */
  async devices(sql: Sql, tenantId: string): Promise<PreviewDevice[]> {
    const rows = await sql.query<{ device_id: string; user_id: string | null; platform: Platform }>(
      'select device_id::text, user_id::text, platform from devices where tenant_id = $1 and active',
      [tenantId],
    );
    return rows.map((r) => ({ deviceId: r.device_id, userId: r.user_id, platform: r.platform }));
  }
}
