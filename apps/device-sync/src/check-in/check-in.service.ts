import { Inject, Injectable } from '@nestjs/common';
import { ManagingAuthority, tenantStreamId } from '@mdm/contracts/authority';
import { CheckInAnswer, CheckInBody, syncStreamId } from '@mdm/contracts/device-sync';
import { effectiveAuthority } from '@mdm/contracts/licensing';
import { NewEvent } from '@mdm/platform/event-store';
import {
  Installed,
  MigrationBlockedByApns,
  apnsMissing,
  evaluateCompliance,
  inRenewalWindow,
  planCheckIn,
} from '@mdm/device-sync/domain';
import { Database } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { ServiceRuntime } from '@mdm/platform/http';
import { ReadYourWrites } from '@mdm/platform/inbox';
import { DeviceAuth, unknownDevice } from '../device-auth';
import { DeviceSyncConfig } from '../device-sync.definition';
import { ActionsPort } from '../ports';
import { AssignedConfiguration, CheckInFacts, TenantRow } from './device-facts';
import { CertificateRenewal } from './certificate-renewal';

const HOUR = 3_600_000;
const view = ({ name, type, authority, version }: Installed) => ({ name, type, authority, version });
const toInstalled = (c: AssignedConfiguration): Installed => ({
  configurationId: c.configuration_id,
  name: c.name,
  type: c.type,
  authority: c.authority,
  version: c.version,
});

type Outcome =
  | { kind: 'unknown' }
  | { kind: 'retry'; tenantId: string }
  | { kind: 'blocked'; authority: ManagingAuthority }
  | { kind: 'answered'; answer: CheckInAnswer };

/** R15, R18–R25: one device check-in, in one transaction. */
@Injectable()
export class CheckInService {
  private readonly config: DeviceSyncConfig;

  constructor(
    @Inject(ServiceRuntime) private readonly runtime: ServiceRuntime,
    @Inject(Database) private readonly db: Database,
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(CheckInFacts) private readonly facts: CheckInFacts,
    @Inject(ActionsPort) private readonly actions: ActionsPort,
    @Inject(ReadYourWrites) private readonly readYourWrites: ReadYourWrites,
    @Inject(CertificateRenewal) private readonly renewal: CertificateRenewal,
    @Inject(DeviceAuth) private readonly auth: DeviceAuth,
  ) {
    this.config = runtime.config as unknown as DeviceSyncConfig;
  }

  /**
   * A check-in decides on this service's copy of the tenant. Only a refusal (R22) first makes sure
   * the copy has what the authority service published: an APNs certificate uploaded a moment ago
   * counts at once. Anything else a stale copy could miss is picked up at the next check-in, which
   * the change's notification (R16) triggers anyway; the hot path stays free of calls to other services.
   * The device is found by its credential in the statement that reads the facts; one enrolled a moment
   * ago whose enrollment has not reached this service yet is waited for, as every device call does.
   */
  async checkIn(credentialHash: string, body: CheckInBody) {
    let outcome = await this.attempt(credentialHash, body, false);
    if (outcome.kind === 'unknown') {
      await this.auth.arrived(credentialHash);
      outcome = await this.attempt(credentialHash, body, false);
    }
    if (outcome.kind === 'retry') {
      await this.readYourWrites.catchUp(this.config.AUTHORITY_URL, outcome.tenantId, [tenantStreamId(outcome.tenantId)]);
      outcome = await this.attempt(credentialHash, body, true);
    }
    if (outcome.kind === 'blocked') throw apnsMissing(outcome.authority);
    if (outcome.kind === 'answered') return outcome.answer;
    throw unknownDevice();
  }

  /**
   * The check-in's answer; `retry` (with the tenant) when a first, tentative attempt would be refused
   * (R22) and wrote nothing; `unknown` when no active device has this credential (yet).
   */
  private async attempt(credentialHash: string, body: CheckInBody, final: boolean): Promise<Outcome> {
    const now = this.runtime.clock.now();
    return this.db.transaction(async (sql) => {
      const row = await this.facts.read(sql, credentialHash);
      if (row?.status !== 'active') return { kind: 'unknown' };
      const device = { deviceId: row.device_id, tenantId: row.tenant_id };
      const tenant: TenantRow = row.tenant ?? { authority: 'unknown', apns_not_after: {}, co_management: { enabled: false, workloads: {} } };
      const user = row.user ?? { licenses: [], group_ids: [] };
      const assigned = row.configurations;
      const target = row.user_id ? effectiveAuthority(tenant.authority, user.licenses) : null;
      const apnsReady = (a: ManagingAuthority) => {
        const notAfter = tenant.apns_not_after[a];
        return notAfter !== undefined && Date.parse(notAfter) > now.getTime();
      };
      const profilesOf = (a: ManagingAuthority) => assigned.filter((c) => c.authority === a && c.type !== 'compliance').map(toInstalled);
      const stream = syncStreamId(device.deviceId);
      const append = (events: NewEvent[]) =>
        this.store.append(stream, events, { expectedVersion: 'any', tenantId: device.tenantId, actor: `device:${device.deviceId}` }, sql);

      let plan;
      try {
        plan = planCheckIn(this.facts.toFacts(row), target, apnsReady, profilesOf);
      } catch (err) {
        if (!(err instanceof MigrationBlockedByApns)) throw err;
        if (!final) return { kind: 'retry', tenantId: device.tenantId };
        if (row.migration_state !== 'blockedApns') {
          await append([{ type: 'DeviceMigrationBlocked', data: { deviceId: device.deviceId, reason: 'apns', authority: err.authority } }]);
          await sql.query(`update devices set migration_state = 'blockedApns' where device_id = $1`, [device.deviceId]);
        }
        return { kind: 'blocked', authority: err.authority };
      }

      await this.actions.applyResults(sql, device, body.commandResults ?? []);
      const commands = await this.actions.deliver(sql, device, row.pending);
      const compliance = this.compliance(tenant, row.platform, plan.managedBy, assigned, body.state);
      const certificate = inRenewalWindow(row.certificate_not_after, now)
        ? await this.renewal.renew(device, now)
        : { serial: row.certificate_serial, notBefore: null, notAfter: row.certificate_not_after.toISOString() };
      const nextCheckInAt = new Date(now.getTime() + this.config.CHECK_IN_INTERVAL_HOURS * HOUR).toISOString();
      // When the device entered its migration state: now if this check-in moved it (R20), else as it was.
      const migrationSince = plan.migrationState !== row.migration_state ? now : row.migration_changed_at;

      const events: NewEvent[] = [];
      if (plan.migrated) events.push({ type: 'DeviceMigrated', data: { deviceId: device.deviceId, ...plan.migrated } });
      if (certificate.notBefore) {
        events.push({
          type: 'MdmCertificateRenewed',
          data: { deviceId: device.deviceId, serial: certificate.serial, notBefore: certificate.notBefore, notAfter: certificate.notAfter },
        });
      }
      events.push({
        type: 'DeviceCheckedIn',
        data: {
          deviceId: device.deviceId,
          managedBy: plan.managedBy,
          state: body.state,
          configurations: plan.configurations,
          redundantConfigurations: plan.redundant,
          compliance,
          nextCheckInAt,
          migration: plan.migrationState,
          migrationSince: migrationSince?.toISOString() ?? null,
        },
      });
      await append(events);
      await sql.query(
        `update devices set managed_by = $2, migration_state = $3, installed = $4, redundant = $5,
                compliance = $6, last_check_in_at = $7, next_check_in_at = $8, certificate_serial = $9, certificate_not_after = $10,
                migration_changed_at = $11, legacy_due_at = null
          where device_id = $1`,
        [
          device.deviceId,
          plan.managedBy,
          plan.migrationState,
          JSON.stringify(plan.configurations),
          JSON.stringify(plan.redundant),
          JSON.stringify(compliance),
          now,
          nextCheckInAt,
          certificate.serial,
          certificate.notAfter,
          migrationSince,
        ],
      );
      return {
        kind: 'answered',
        answer: {
          deviceId: device.deviceId,
          managedBy: plan.managedBy,
          configurations: plan.configurations.map(view),
          redundantConfigurations: plan.redundant.map(view),
          commands,
          compliance,
          mdmCertificate: { serial: certificate.serial, notAfter: certificate.notAfter },
          nextCheckInAt,
        },
      };
    });
  }

  /** R25; co-managed Windows devices with the compliance workload on Configuration Manager are its to judge. */
  private compliance(
    tenant: { co_management: { enabled: boolean; workloads: Record<string, string> } },
    platform: string,
    managedBy: ManagingAuthority,
    assigned: AssignedConfiguration[],
    state: CheckInBody['state'],
  ) {
    const { enabled, workloads } = tenant.co_management;
    if (platform === 'windows' && enabled && workloads.compliancePolicies === 'configMgr') {
      return { state: 'notEvaluated' as const, reasons: [], source: 'configMgr' as const };
    }
    const policies = assigned.filter((c) => c.authority === managedBy && c.type === 'compliance');
    return { ...evaluateCompliance(policies, state), source: managedBy };
  }
}
