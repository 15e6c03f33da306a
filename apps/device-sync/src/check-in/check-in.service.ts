import { Inject, Injectable } from '@nestjs/common';
import { ManagingAuthority } from '@mdm/contracts/authority';
import { CheckInAnswer, CheckInBody, syncStreamId } from '@mdm/contracts/device-sync';
import { effectiveAuthority } from '@mdm/contracts/licensing';
import { AppendOptions, NewEvent } from '@mdm/platform/event-store';
import { LogContext, currentContext, runWithContext } from '@mdm/platform/logging';
import {
  AuthorityPlan,
  CheckInPlan,
  Installed,
  MigrationBlockedByApns,
  apnsMissing,
  assignmentKey,
  blockedCheckInEvents,
  checkInEvents,
  configurationDelta,
  deviceCompliance,
  keepsConfigurations,
  nextManagedBy,
  planAuthority,
  planCheckIn,
} from '@mdm/device-sync/domain';
import { Database, GroupCommit, Sql } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { CLOCK, SERVICE_CONFIG, jsonWithMembers } from '@mdm/platform/http';
import { Clock } from '@mdm/platform/clock';
import { DeviceAuth, DeviceCredential, KnownCredential, unknownDevice } from '../device-auth';
import { DeviceSyncConfig } from '../device-sync.definition';
import { ActionsPort } from '../ports';
import { Assigned, CheckInFacts, CheckInFactsRow, DeviceLists, TenantRow } from './device-facts';
import { CertificateAtCheckIn, CertificateRenewal } from './certificate-renewal';
import { PushTokens } from '../notifications/push/push-tokens';

const HOUR = 3_600_000;
const view = ({ name, type, authority, version }: Installed) => ({ name, type, authority, version });
const NO_TENANT: TenantRow = { authority: 'unknown', assignments_version: 'none', apns_not_after: {}, co_management: { enabled: false, workloads: {} } };

type Outcome =
  | { kind: 'unknown' }
  | { kind: 'blocked'; authority: ManagingAuthority }
  | { kind: 'failed'; error: unknown }
  /** The answer but its lists, and its lists as the JSON text of `{ configurations, redundantConfigurations }`. */
  | { kind: 'answered'; answer: Omit<CheckInAnswer, 'configurations' | 'redundantConfigurations'>; lists: string };

/** An active device of a batch, with where it belongs and is managed (CheckInService.assignment). */
interface Placement {
  row: CheckInFactsRow;
  target: ManagingAuthority | null;
  managedBy: ManagingAuthority;
  key: string;
}

interface Attempt {
  known: KnownCredential;
  body: CheckInBody;
  /** The request's own ids: its events carry them, whichever request's batch they are written in. */
  context: LogContext;
}

/** A check-in batch's writes, made in three statements whatever its size. */
class BatchWrites {
  readonly appends: { streamId: string; events: NewEvent[]; opts: Omit<AppendOptions, 'expectedVersion'> }[] = [];
  readonly checkedIn: Record<string, unknown>[] = [];
  /** Devices given other lists or another assignment: their lists, their answer's lists and their policies are rewritten. */
  readonly assigned: Record<string, unknown>[] = [];
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
            set managed_by = x.managed_by, migration_state = x.migration_state,
                compliance = x.compliance, last_check_in_at = x.last_check_in_at, next_check_in_at = x.next_check_in_at,
                certificate_serial = x.certificate_serial, certificate_not_after = x.certificate_not_after,
                migration_changed_at = x.migration_changed_at, legacy_due_at = null
           from jsonb_to_recordset($1::jsonb) as x(device_id uuid, managed_by text, migration_state text,
                compliance jsonb, last_check_in_at timestamptz, next_check_in_at timestamptz,
                certificate_serial text, certificate_not_after timestamptz, migration_changed_at timestamptz)
          where d.device_id = x.device_id`,
        [JSON.stringify(this.checkedIn)],
      );
    }
    // Apart, and only for the devices whose lists changed: an unchanged device's lists are not rewritten.
    if (this.assigned.length > 0) {
      await sql.query(
        `update devices d
            set installed = x.installed, redundant = x.redundant, answer_lists = x.answer_lists, policies = x.policies, assignment_key = x.assignment_key
           from jsonb_to_recordset($1::jsonb) as x(device_id uuid, installed jsonb, redundant jsonb, answer_lists text, policies jsonb, assignment_key text)
          where d.device_id = x.device_id`,
        [JSON.stringify(this.assigned)],
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
  // Two batches at once: one catches up or waits on its commit while the other decides.
  private readonly batches = new GroupCommit<Attempt, Outcome>((attempts, settle) => this.attempt(attempts, (i) => settle(i, { kind: 'unknown' })), {
    maxBatch: 100,
    concurrency: 2,
    key: (a) => a.known.credential.hash,
  });

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: DeviceSyncConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly db: Database,
    private readonly store: EventStore,
    private readonly facts: CheckInFacts,
    private readonly actions: ActionsPort,
    private readonly renewal: CertificateRenewal,
    private readonly auth: DeviceAuth,
    private readonly pushTokens: PushTokens,
  ) {}

  /**
   * A check-in is decided on this service's copy of the other contexts' state, once that copy holds
   * everything their owners had committed when the check-in arrived (DeviceAuth.catchUp, one wait
   * per batch): nothing decided on a stale copy reaches the event log. The answer (CheckInAnswer) is
   * given as JSON text: its lists go in as they were stored, however many configurations they hold.
   */
  async checkIn(credential: DeviceCredential, body: CheckInBody): Promise<string> {
    const { correlationId, tenantId, causationId } = currentContext();
    const known = await this.auth.lookUp(credential);
    const outcome = await this.batches.submit({ known, body, context: { correlationId, tenantId, causationId } });
    if (outcome.kind === 'blocked') throw apnsMissing(outcome.authority);
    if (outcome.kind === 'failed') throw outcome.error;
    if (outcome.kind === 'answered') {
      const { deviceId, managedBy, ...rest } = outcome.answer;
      return jsonWithMembers({ deviceId, managedBy }, outcome.lists, rest);
    }
    throw unknownDevice();
  }

  /** A batch of check-ins of distinct devices: caught up together, then decided in one transaction. */
  private async attempt(all: Attempt[], unknown: (index: number) => void): Promise<Outcome[]> {
    let devices: unknown[];
    try {
      devices = await this.auth.catchUp(all.map((a) => a.known), unknown);
    } catch (error) {
      // An owner out of reach or a lagging inbox: the whole batch's answer, at once (not retried one by one).
      return all.map(() => ({ kind: 'failed', error }));
    }
    const attempts = all.filter((_, i) => devices[i]);
    if (attempts.length === 0) return all.map(() => ({ kind: 'unknown' }));
    const now = this.clock.now();
    const decided = await this.db.transaction(async (sql) => {
      const rows = await this.facts.read(sql, attempts.map((a) => a.known.credential.hash));
      const byCredential = new Map(rows.map((r) => [r.credential_hash, r]));
      const active = rows.filter((r) => r.status === 'active').map((row) => ({ row, ...this.assignment(row) }));
      const placed = new Map(active.map((d) => [d.row.device_id, d]));
      // R20/R21: only the devices whose assignment moved since their last check-in have theirs read
      // again, and only those whose check-in may change their lists (or whose answer's lists are not
      // stored yet) have their lists read.
      const moved = active.filter((d) => d.key !== d.row.assignment_key);
      const assigned = await this.facts.assigned(sql, moved.map(({ row, managedBy }) => ({ row, authority: managedBy })));
      const changing = active.filter(
        ({ row, target, key }) => row.answer_lists === null || !keepsConfigurations(this.facts.toFacts(row), target, key !== row.assignment_key),
      );
      const lists = await this.facts.lists(sql, changing.map(({ row }) => row.device_id));
      const writes = new BatchWrites();
      const outcomes = new Map<Attempt, Outcome>();
      for (const a of attempts) {
        const row = byCredential.get(a.known.credential.hash);
        const id = row?.device_id ?? '';
        const placement = placed.get(id);
        outcomes.set(a, placement ? await runWithContext(a.context, () => this.decide(sql, placement, assigned.get(id), lists.get(id), a, now, writes)) : { kind: 'unknown' });
      }
      await writes.flush(sql, this.store);
      return outcomes;
    });
    return all.map((a) => decided.get(a) ?? { kind: 'unknown' });
  }

  /** Where the device belongs (R8), where it is managed after this check-in, and the key of the assignment that gives it. */
  private assignment(row: CheckInFactsRow): Omit<Placement, 'row'> {
    const tenant = row.tenant ?? NO_TENANT;
    const target = row.user_id ? effectiveAuthority(tenant.authority, row.user?.licenses ?? []) : null;
    const managedBy = nextManagedBy(this.facts.toFacts(row), target);
    return { target, managedBy, key: assignmentKey(tenant.assignments_version, row.user?.group_version ?? 'none', managedBy) };
  }

  /**
   * One active device's check-in: its answer, with what it writes queued in `writes`. `fresh` is what its
   * managing authority assigns it, read when its assignment moved; otherwise it has it already.
   * `lists` are the lists it has, read when the check-in may change them; otherwise it keeps them
   * (keepsConfigurations) and its answer gives them as stored.
   */
  private async decide(
    sql: Sql,
    { row, target, key }: Placement,
    fresh: Assigned | undefined,
    lists: DeviceLists | undefined,
    attempt: Attempt,
    now: Date,
    writes: BatchWrites,
  ): Promise<Outcome> {
    const { body } = attempt;
    const device = { deviceId: row.device_id, tenantId: row.tenant_id };
    const tenant = row.tenant ?? NO_TENANT;
    const apnsReady = (a: ManagingAuthority) => {
      const notAfter = tenant.apns_not_after[a];
      return notAfter !== undefined && Date.parse(notAfter) > now.getTime();
    };

    let plan: AuthorityPlan;
    let planned: CheckInPlan | null = null;
    try {
      const facts = this.facts.toFacts(row);
      if (lists) plan = planned = planCheckIn({ ...facts, ...lists }, target, apnsReady, () => fresh?.profiles ?? lists.installed);
      else plan = planAuthority(facts, target, apnsReady);
    } catch (err) {
      if (!(err instanceof MigrationBlockedByApns)) throw err;
      const events = blockedCheckInEvents({ deviceId: device.deviceId, migrationState: row.migration_state }, err);
      if (events.length) {
        writes.append(device, events);
        writes.blocked.push(device.deviceId);
      }
      return { kind: 'blocked', authority: err.authority };
    }

    // The renewal first, before this device writes anything: a CA that cannot answer fails this
    // check-in alone, and the rest of its batch goes on.
    let certificate: CertificateAtCheckIn;
    try {
      certificate = await this.renewal.atCheckIn(device, { serial: row.certificate_serial, notAfter: row.certificate_not_after }, now, body.csrPem);
    } catch (error) {
      return { kind: 'failed', error };
    }
    await this.actions.applyResults(sql, device, body.commandResults ?? []);
    const commands = await this.actions.deliver(sql, device, row.pending);
    const policies = fresh?.policies ?? row.policies;
    const compliance = deviceCompliance(tenant.co_management, row.platform, plan.managedBy, policies, body.state);
    const nextCheckInAt = new Date(now.getTime() + this.config.CHECK_IN_INTERVAL_HOURS * HOUR).toISOString();
    // When the device entered its migration state: now if this check-in moved it (R20), else as it was.
    const migrationSince = plan.migrationState !== row.migration_state ? now : row.migration_changed_at;
    const delta = lists && planned ? configurationDelta({ configurations: lists.installed, redundant: lists.redundant }, planned) : null;

    const pushed: NewEvent[] = await this.pushTokens.atCheckIn(sql, row, body.pushToken);
    writes.append(device, [
      ...pushed,
      ...checkInEvents({
        deviceId: device.deviceId,
        plan,
        delta,
        renewed: certificate.notBefore ? { serial: certificate.serial, notBefore: certificate.notBefore, notAfter: certificate.notAfter } : null,
        state: body.state,
        compliance,
        nextCheckInAt,
        migrationSince: migrationSince ? new Date(migrationSince).toISOString() : null,
      }),
    ]);
    writes.checkedIn.push({
      device_id: device.deviceId,
      managed_by: plan.managedBy,
      migration_state: plan.migrationState,
      compliance,
      last_check_in_at: now.toISOString(),
      next_check_in_at: nextCheckInAt,
      certificate_serial: certificate.serial,
      certificate_not_after: certificate.notAfter,
      migration_changed_at: migrationSince ? new Date(migrationSince).toISOString() : null,
    });
    const answerLists = planned
      ? JSON.stringify({ configurations: planned.configurations.map(view), redundantConfigurations: planned.redundant.map(view) })
      : row.answer_lists!;
    if (planned && (fresh || delta || row.answer_lists !== answerLists)) {
      writes.assigned.push({
        device_id: device.deviceId,
        installed: planned.configurations,
        redundant: planned.redundant,
        answer_lists: answerLists,
        policies,
        assignment_key: key,
      });
    }
    return {
      kind: 'answered',
      lists: answerLists,
      answer: {
        deviceId: device.deviceId,
        managedBy: plan.managedBy,
        commands,
        compliance,
        mdmCertificate: { serial: certificate.serial, notAfter: certificate.notAfter, renewalDue: certificate.renewalDue, ...(certificate.pem && { pem: certificate.pem }) },
        nextCheckInAt,
      },
    };
  }
}
