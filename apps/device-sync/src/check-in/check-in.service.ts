import { Inject, Injectable } from '@nestjs/common';
import { ManagingAuthority, tenantStreamId } from '@mdm/contracts/authority';
import { CheckInAnswer, CheckInBody, syncStreamId } from '@mdm/contracts/device-sync';
import { effectiveAuthority } from '@mdm/contracts/licensing';
import { AppendOptions, NewEvent } from '@mdm/platform/event-store';
import { LogContext, currentContext, runWithContext } from '@mdm/platform/logging';
import {
  Installed,
  MigrationBlockedByApns,
  apnsMissing,
  evaluateCompliance,
  inRenewalWindow,
  planCheckIn,
} from '@mdm/device-sync/domain';
import { Database, GroupCommit, Sql } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { ServiceRuntime } from '@mdm/platform/http';
import { ReadYourWrites } from '@mdm/platform/inbox';
import { DeviceAuth, unknownDevice } from '../device-auth';
import { DeviceSyncConfig } from '../device-sync.definition';
import { ActionsPort } from '../ports';
import { AssignedConfiguration, CheckInFacts, CheckInFactsRow, TenantRow } from './device-facts';
import { CertificateRenewal } from './certificate-renewal';
import { PushTokens } from '../notifications/push/push-tokens';

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
  | { kind: 'failed'; error: unknown }
  | { kind: 'answered'; answer: CheckInAnswer };

interface Attempt {
  credentialHash: string;
  body: CheckInBody;
  /** A first attempt that would be refused (R22) answers `retry` and writes nothing; a final one records the refusal. */
  final: boolean;
  /** The request's own ids: its events carry them, whichever request's batch they are written in. */
  context: LogContext;
}

/** A check-in batch's writes, made in three statements whatever its size. */
class BatchWrites {
  readonly appends: { streamId: string; events: NewEvent[]; opts: Omit<AppendOptions, 'expectedVersion'> }[] = [];
  readonly checkedIn: Record<string, unknown>[] = [];
  readonly blocked: string[] = [];

  append(device: { deviceId: string; tenantId: string }, events: NewEvent[]): void {
    const { correlationId, causationId } = currentContext();
    this.appends.push({
      streamId: syncStreamId(device.deviceId),
      events,
      opts: { tenantId: device.tenantId, actor: `device:${device.deviceId}`, correlationId, causationId: causationId ?? null },
    });
  }

  async flush(sql: Sql, store: EventStore): Promise<void> {
    if (this.appends.length > 0) await store.appendToStreams(this.appends, sql);
    if (this.checkedIn.length > 0) {
      await sql.query(
        `update devices d
            set managed_by = x.managed_by, migration_state = x.migration_state, installed = x.installed, redundant = x.redundant,
                compliance = x.compliance, last_check_in_at = x.last_check_in_at, next_check_in_at = x.next_check_in_at,
                certificate_serial = x.certificate_serial, certificate_not_after = x.certificate_not_after,
                migration_changed_at = x.migration_changed_at, legacy_due_at = null
           from jsonb_to_recordset($1::jsonb) as x(device_id uuid, managed_by text, migration_state text, installed jsonb,
                redundant jsonb, compliance jsonb, last_check_in_at timestamptz, next_check_in_at timestamptz,
                certificate_serial text, certificate_not_after timestamptz, migration_changed_at timestamptz)
          where d.device_id = x.device_id`,
        [JSON.stringify(this.checkedIn)],
      );
    }
    if (this.blocked.length > 0) {
      await sql.query(`update devices set migration_state = 'blockedApns' where device_id = any($1::uuid[])`, [this.blocked]);
    }
  }
}

/**
 * R15, R18–R25: device check-ins. Check-ins that arrive together are decided together in one
 * transaction (group commit): one statement reads every device's facts, three write what they
 * decided, so a busy fleet costs a handful of round trips per batch instead of five per device.
 */
@Injectable()
export class CheckInService {
  private readonly config: DeviceSyncConfig;
  private readonly batches = new GroupCommit<Attempt, Outcome>((attempts) => this.attempt(attempts), {
    maxBatch: 100,
    key: (a) => a.credentialHash,
  });

  constructor(
    @Inject(ServiceRuntime) private readonly runtime: ServiceRuntime,
    @Inject(Database) private readonly db: Database,
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(CheckInFacts) private readonly facts: CheckInFacts,
    @Inject(ActionsPort) private readonly actions: ActionsPort,
    @Inject(ReadYourWrites) private readonly readYourWrites: ReadYourWrites,
    @Inject(CertificateRenewal) private readonly renewal: CertificateRenewal,
    @Inject(DeviceAuth) private readonly auth: DeviceAuth,
    @Inject(PushTokens) private readonly pushTokens: PushTokens,
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
    const { correlationId, tenantId, causationId } = currentContext();
    const context = { correlationId, tenantId, causationId };
    let outcome = await this.batches.submit({ credentialHash, body, final: false, context });
    if (outcome.kind === 'unknown') {
      await this.auth.arrived(credentialHash);
      outcome = await this.batches.submit({ credentialHash, body, final: false, context });
    }
    if (outcome.kind === 'retry') {
      await this.readYourWrites.catchUp(this.config.AUTHORITY_URL, outcome.tenantId, [tenantStreamId(outcome.tenantId)]);
      outcome = await this.batches.submit({ credentialHash, body, final: true, context });
    }
    if (outcome.kind === 'blocked') throw apnsMissing(outcome.authority);
    if (outcome.kind === 'failed') throw outcome.error;
    if (outcome.kind === 'answered') return outcome.answer;
    throw unknownDevice();
  }

  /** A batch of check-ins of distinct devices, in one transaction. */
  private async attempt(attempts: Attempt[]): Promise<Outcome[]> {
    const now = this.runtime.clock.now();
    return this.db.transaction(async (sql) => {
      const rows = await this.facts.read(sql, attempts.map((a) => a.credentialHash));
      const byCredential = new Map(rows.map((r) => [r.credential_hash, r]));
      const writes = new BatchWrites();
      const outcomes: Outcome[] = [];
      for (const a of attempts) {
        outcomes.push(await runWithContext(a.context, () => this.decide(sql, byCredential.get(a.credentialHash), a, now, writes)));
      }
      await writes.flush(sql, this.store);
      return outcomes;
    });
  }

  /** One device's check-in: its answer, with what it writes queued in `writes`. */
  private async decide(sql: Sql, row: CheckInFactsRow | undefined, attempt: Attempt, now: Date, writes: BatchWrites): Promise<Outcome> {
    if (row?.status !== 'active') return { kind: 'unknown' };
    const { body } = attempt;
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

    let plan;
    try {
      plan = planCheckIn(this.facts.toFacts(row), target, apnsReady, profilesOf);
    } catch (err) {
      if (!(err instanceof MigrationBlockedByApns)) throw err;
      if (!attempt.final) return { kind: 'retry', tenantId: device.tenantId };
      if (row.migration_state !== 'blockedApns') {
        writes.append(device, [{ type: 'DeviceMigrationBlocked', data: { deviceId: device.deviceId, reason: 'apns', authority: err.authority } }]);
        writes.blocked.push(device.deviceId);
      }
      return { kind: 'blocked', authority: err.authority };
    }

    // The renewal first, before this device writes anything: a CA that cannot answer fails this
    // check-in alone, and the rest of its batch goes on.
    let certificate: { serial: string; notBefore: string | null; notAfter: string };
    try {
      certificate = inRenewalWindow(row.certificate_not_after, now)
        ? await this.renewal.renew(device, now)
        : { serial: row.certificate_serial, notBefore: null, notAfter: row.certificate_not_after.toISOString() };
    } catch (error) {
      return { kind: 'failed', error };
    }
    await this.actions.applyResults(sql, device, body.commandResults ?? []);
    const commands = await this.actions.deliver(sql, device, row.pending);
    const compliance = this.compliance(tenant, row.platform, plan.managedBy, assigned, body.state);
    const nextCheckInAt = new Date(now.getTime() + this.config.CHECK_IN_INTERVAL_HOURS * HOUR).toISOString();
    // When the device entered its migration state: now if this check-in moved it (R20), else as it was.
    const migrationSince = plan.migrationState !== row.migration_state ? now : row.migration_changed_at;

    const events: NewEvent[] = await this.pushTokens.atCheckIn(sql, row, body.pushToken);
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
    writes.append(device, events);
    writes.checkedIn.push({
      device_id: device.deviceId,
      managed_by: plan.managedBy,
      migration_state: plan.migrationState,
      installed: plan.configurations,
      redundant: plan.redundant,
      compliance,
      last_check_in_at: now.toISOString(),
      next_check_in_at: nextCheckInAt,
      certificate_serial: certificate.serial,
      certificate_not_after: certificate.notAfter,
      migration_changed_at: migrationSince ? new Date(migrationSince).toISOString() : null,
    });
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
