import { randomBytes } from 'node:crypto';
import type { Logger } from '@mdm/platform/logging';
import { Backoff, backoffDelay, withRetries } from '@mdm/platform/retry';
import { GatewayClient, ServerFeatures } from './gateway-client';
import { certificateRequestPem, newDeviceKey } from './identity';
import { mdmSignature } from './mdm-signature';
import { Scheduler, TimeSource, scheduledAt } from './scheduler';
import { CommandResult, DeviceRecord, FleetState, Platform } from './state-file';

export interface FleetOptions {
  /** waitSeconds of each long poll (≤ 60). */
  waitSeconds: number;
  /** Up to this much later than the server's nextCheckInAt. */
  jitterMs: number;
  /** Check-ins in flight at once. */
  concurrency: number;
  enrollConcurrency: number;
  /** Long polls opened per second at start (a burst of 10,000 connects overflows the server's accept queue). */
  pollRampPerSecond: number;
  /** Sign check-ins with the device's certificate (`Mdm-Signature`), once the server gave it one (`pem`). */
  sign: boolean;
  logger: Logger;
  random?: () => number;
}

export interface EnrollPlan {
  /** Drawn in turn: the platform mix expanded by its weights. */
  platforms: Platform[];
  /** Share of devices that report no passcode (noncompliant under a policy requiring one). */
  noncompliantShare: number;
}

export interface Counters {
  enrolled: number;
  checkIns: number;
  notifications: number;
  commandsRun: number;
  renewals: number;
  removed: number;
  errors: number;
  /** Errors by kind (`check-in 503 DEPENDENCY_LAGGING`, `poll ECONNRESET`, ...). */
  errorsByKind: Record<string, number>;
}

export interface FleetSnapshot {
  devices: number;
  active: number;
  pollsOpen: number;
  checkInsInFlight: number;
  checkInsQueued: number;
  scheduled: number;
  counters: Counters;
}

/** Tries again of an enrollment the server failed (5xx) or dropped, with the device's backoff. */
const ENROLL_RETRIES = 10;

/** What a poll (a GET) signs. */
const EMPTY_BODY = '';

const OS_VERSIONS: Record<Platform, string> = { ios: '17.4', ipados: '17.4', macos: '14.5', android: '14.0', windows: '10.0.22631' };

/** A check-in's state per device: not wanted, waiting for a slot, running, running and wanted once more. */
const IDLE = 0;
const QUEUED = 1;
const RUNNING = 2;
const RUNNING_AGAIN = 3;

/** The retry heap's ids: each device has one for its poll and one for its check-in. */
const POLL = 0;
const CHECK_IN = 1;

type CheckInAnswer = {
  managedBy: string;
  commands: { commandId: string; type: string }[];
  mdmCertificate: { serial: string; notAfter: string; pem?: string; renewalDue?: boolean };
  nextCheckInAt: string;
};

/**
 * A fleet of simulated devices in one process. Per device it holds its record, a long poll in
 * flight and a few bytes of state in typed arrays; everything timed is an entry of one of two
 * heaps: the schedule in the server's time, the retries in local time (a retry must happen even
 * while the test clock stands still). Check-ins run from one FIFO with a bounded number in flight.
 */
export class Fleet {
  readonly counters: Counters = { enrolled: 0, checkIns: 0, notifications: 0, commandsRun: 0, renewals: 0, removed: 0, errors: 0, errorsByKind: {} };
  private checkInState = new Uint8Array(0);
  private polling = new Uint8Array(0);
  private renewalDue = new Uint8Array(0);
  private failures = new Uint8Array(0);
  private readonly ready: number[] = [];
  private readyHead = 0;
  private inFlight = 0;
  private pollsOpen = 0;
  private readonly pollStarts: number[] = [];
  private pollRamp: NodeJS.Timeout | undefined;
  private readonly schedule: Scheduler;
  private readonly retries: Scheduler;
  private readonly random: () => number;
  /** A failed call's backoff: from 0.5 s to 30 s, spread by ±50 %. */
  private readonly backoff: Backoff;
  private running = false;
  /** Devices the state file already knew as removed. */
  private readonly removedBefore: number;
  private idle: (() => void) | undefined;
  /** Set when a device record changed since the last save. */
  dirty = false;

  constructor(
    readonly state: FleetState,
    private readonly client: GatewayClient,
    private readonly features: ServerFeatures,
    serverClock: TimeSource,
    private readonly opts: FleetOptions,
  ) {
    this.random = opts.random ?? Math.random;
    this.backoff = { initialMs: 500, maxMs: 30_000, jitter: () => 0.5 + this.random() };
    this.schedule = new Scheduler(serverClock, (ids) => ids.forEach((i) => this.checkInNow(i)));
    this.retries = new Scheduler({ now: Date.now }, (ids) =>
      ids.forEach((id) => (id % 2 === POLL ? this.poll(id >> 1) : this.checkInNow(id >> 1))),
    );
    this.removedBefore = state.devices.filter((d) => d.removed).length;
    this.grow();
  }

  /** Runs what the schedule holds after a jump of the server's clock. */
  clockJumped(): void {
    this.schedule.tick();
  }

  /** Starts every device of the state (resumed fleets) and each one enrolled from now on. */
  start(): void {
    this.running = true;
    this.state.devices.forEach((_, i) => this.activate(i));
  }

  /**
   * Enrolls `count` more devices (R11–R13), each with a key of its own; with a CSR when the server
   * takes one. Devices enrolled while the fleet runs start at once.
   */
  async enroll(count: number, plan: EnrollPlan, onProgress: (enrolled: number) => void = () => undefined): Promise<void> {
    const token = this.state.enrollToken ?? this.state.adminToken;
    if (!token) throw new Error('no token to enroll with (--token)');
    const base = this.state.devices.length;
    let next = 0;
    let failed = 0;
    let firstError = '';
    const one = async (k: number) => {
      const platform = plan.platforms[(base + k) % plan.platforms.length];
      const userId = this.state.users.length > 0 ? this.state.users[(base + k) % this.state.users.length] : null;
      const key = newDeviceKey();
      const serialNumber = `DA${randomBytes(6).toString('hex').toUpperCase()}`;
      const body = {
        platform,
        enrollmentType: userId ? 'user' : 'bulk',
        ...(userId && { userId }),
        serialNumber,
        deviceName: `${platform}-${serialNumber.slice(-6)}`,
        osVersion: OS_VERSIONS[platform],
        ...(this.features.enrollmentCsr && { csrPem: await certificateRequestPem(key, serialNumber) }),
      };
      // Read-your-writes may lag (503) after the tenant and its users were set up, and more so
      // under load; a loaded system may fail or drop a connection: backing off as the device's
      // other calls do, for a few minutes in all.
      const res = await withRetries(
        {
          retries: ENROLL_RETRIES,
          backoff: this.backoff,
          retryAnswer: (r) => r.status >= 500 || r.status === 0,
          onRetry: ({ answer: r }) => this.error(`enroll ${r!.status} ${errorCode(r!.body)} (tried again)`, r!.body),
        },
        () =>
          this.client
            .json<EnrollAnswer>(`/api/v1/tenants/${this.state.tenantId}/enrollments`, { method: 'POST', token, body })
            .catch((err: Error) => ({ status: 0, body: { code: errorKind(err) } }) as const),
      );
      if (res.status === 201) return this.enrolled(res.body, { platform, userId, key, serialNumber, noncompliant: this.random() < plan.noncompliantShare });
      const kind = `enroll ${res.status} ${errorCode(res.body)}`;
      this.error(kind, res.body);
      firstError ||= `${kind}: ${JSON.stringify(res.body)}`;
      failed++;
    };
    const worker = async () => {
      while (next < count) {
        if (failed >= 20 && this.counters.enrolled === 0) throw new Error(`enrollment fails: ${firstError}`);
        await one(next++).catch((err: Error) => {
          this.error(`enroll ${errorKind(err)}`, err.message);
          firstError ||= err.message;
          failed++;
        });
        onProgress(this.state.devices.length - base);
      }
    };
    await Promise.all(Array.from({ length: Math.min(count, this.opts.enrollConcurrency) }, worker));
    if (failed >= count && count > 0) throw new Error(`enrollment fails: ${firstError}`);
  }

  snapshot(): FleetSnapshot {
    return {
      devices: this.state.devices.length,
      active: this.state.devices.length - this.removedBefore - this.counters.removed,
      pollsOpen: this.pollsOpen,
      checkInsInFlight: this.inFlight,
      checkInsQueued: this.ready.length - this.readyHead,
      scheduled: this.schedule.size,
      counters: this.counters,
    };
  }

  /** Stops polling and scheduling; waits (up to graceMs) for the check-ins in flight, then closes every connection. */
  async stop(graceMs = 5000): Promise<void> {
    this.running = false;
    this.schedule.stop();
    this.retries.stop();
    clearInterval(this.pollRamp);
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        setTimeout(resolve, graceMs).unref();
      });
    }
    this.client.close();
  }

  private enrolled(answer: EnrollAnswer, d: { platform: Platform; userId: string | null; key: string; serialNumber: string; noncompliant: boolean }): void {
    const record: DeviceRecord = {
      deviceId: answer.deviceId,
      serialNumber: d.serialNumber,
      platform: d.platform,
      userId: d.userId,
      credential: answer.deviceCredential,
      key: d.key,
      certificate: { serial: answer.mdmCertificate.serial, notAfter: answer.mdmCertificate.notAfter, ...(answer.mdmCertificate.pem && { pem: answer.mdmCertificate.pem }) },
      managedBy: answer.managedBy,
      nextCheckInAt: null,
      state: { osVersion: OS_VERSIONS[d.platform], encrypted: true, jailbroken: false, passcodeSet: !d.noncompliant },
      pendingResults: [],
      locked: false,
      removed: false,
    };
    this.state.devices.push(record);
    this.counters.enrolled++;
    this.dirty = true;
    this.grow();
    if (this.running) this.activate(this.state.devices.length - 1);
  }

  /** The typed arrays follow the device list (doubling). */
  private grow(): void {
    const n = this.state.devices.length;
    if (n <= this.polling.length) return;
    const size = Math.max(1024, n * 2);
    const bigger = (a: Uint8Array) => {
      const b = new Uint8Array(size);
      b.set(a);
      return b;
    };
    this.checkInState = bigger(this.checkInState);
    this.polling = bigger(this.polling);
    this.renewalDue = bigger(this.renewalDue);
    this.failures = bigger(this.failures);
  }

  private activate(i: number): void {
    const d = this.state.devices[i];
    if (d.removed) return;
    // Enrolled and never checked in: the first check-in now, and the poll after it (a device
    // enrolled a moment ago may not have reached device-sync yet, and each early call waits there).
    if (d.nextCheckInAt === null) return this.checkInNow(i);
    if (d.pendingResults.length > 0) this.checkInNow(i);
    else this.schedule.at(i, scheduledAt(Date.parse(d.nextCheckInAt), this.opts.jitterMs, this.random));
    this.startPolling(i);
  }

  private startPolling(i: number): void {
    this.pollStarts.push(i);
    this.rampPolls();
  }

  /**
   * A 401: the server does not know the credential (any more). Before its first check-in a device
   * may only not have arrived yet at device-sync (enrollment's event still on its way, under load):
   * it tries again, a few times; otherwise it was unenrolled, removed or wiped, and stops.
   */
  private unauthorized(i: number, kind: typeof POLL | typeof CHECK_IN, body: unknown): void {
    if (this.state.devices[i].nextCheckInAt === null && this.failures[i] < 8) {
      this.error(`${kind === POLL ? 'poll' : 'check-in'} 401 before the first check-in`, body);
      this.retryLater(i, kind);
    } else {
      this.remove(i);
    }
  }

  private rampPolls(): void {
    if (this.pollRamp) return;
    const perTick = Math.max(1, Math.ceil(this.opts.pollRampPerSecond / 10));
    this.pollRamp = setInterval(() => {
      for (const i of this.pollStarts.splice(0, perTick)) this.poll(i);
      if (this.pollStarts.length === 0) {
        clearInterval(this.pollRamp);
        this.pollRamp = undefined;
      }
    }, 100);
    this.pollRamp.unref();
  }

  /** R16: the device's long poll; a notification makes it check in, and it polls again. */
  private poll(i: number): void {
    const d = this.state.devices[i];
    if (!this.running || d.removed || this.polling[i]) return;
    this.polling[i] = 1;
    this.pollsOpen++;
    const done = () => {
      this.polling[i] = 0;
      this.pollsOpen--;
    };
    this.client.poll<{ notifications: unknown[] }>(i, d.credential, this.opts.waitSeconds, this.signature(d, EMPTY_BODY)).then(
      (res) => {
        done();
        if (!this.running) return;
        if (res.status === 200) {
          const n = res.body.notifications.length;
          if (n > 0) {
            this.counters.notifications += n;
            this.checkInNow(i);
          }
          this.poll(i);
        } else if (unknownDevice(res)) {
          this.unauthorized(i, POLL, res.body);
        } else {
          this.error(`poll ${res.status} ${errorCode(res.body)}`, res.body);
          this.retryLater(i, POLL);
        }
      },
      (err: Error) => {
        done();
        if (!this.running) return;
        this.error(`poll ${errorKind(err)}`, err.message);
        this.retryLater(i, POLL);
      },
    );
  }

  private checkInNow(i: number): void {
    if (!this.running || this.state.devices[i].removed) return;
    const s = this.checkInState[i];
    if (s === IDLE) {
      this.checkInState[i] = QUEUED;
      this.ready.push(i);
      this.pump();
    } else if (s === RUNNING) {
      this.checkInState[i] = RUNNING_AGAIN;
    }
  }

  private pump(): void {
    while (this.running && this.inFlight < this.opts.concurrency && this.readyHead < this.ready.length) {
      const i = this.ready[this.readyHead++];
      if (this.readyHead >= 4096 && this.readyHead * 2 >= this.ready.length) {
        this.ready.splice(0, this.readyHead);
        this.readyHead = 0;
      }
      this.checkInState[i] = RUNNING;
      this.inFlight++;
      this.schedule.cancel(i);
      void this.checkIn(i)
        .catch((err: Error) => {
          if (!this.running) return;
          this.error(`check-in ${errorKind(err)}`, err.message);
          this.retryLater(i, CHECK_IN);
        })
        .finally(() => {
          this.inFlight--;
          const again = this.checkInState[i] === RUNNING_AGAIN;
          this.checkInState[i] = IDLE;
          if (again) this.checkInNow(i);
          if (this.inFlight === 0) this.idle?.();
          this.pump();
        });
    }
  }

  /** R18–R25: state for compliance, results of remote actions, a renewal's CSR when the server asked for one. */
  private async checkIn(i: number): Promise<void> {
    const d = this.state.devices[i];
    const results = d.pendingResults.slice(0, 100);
    const renew = this.features.checkInCsr && this.renewalDue[i] === 1;
    if (renew) d.renewalKey ??= newDeviceKey();
    const body = JSON.stringify({
      state: d.state,
      ...(results.length > 0 && { commandResults: results }),
      ...(renew && { csrPem: await certificateRequestPem(d.renewalKey!, d.serialNumber) }),
    });
    const res = await this.client.call<CheckInAnswer>('/device/v1/check-in', { method: 'POST', device: d.credential, body, headers: this.signature(d, body) });
    if (unknownDevice(res)) return this.unauthorized(i, CHECK_IN, res.body);
    if (res.status !== 200) {
      this.error(`check-in ${res.status} ${errorCode(res.body)}`, res.body);
      return this.retryLater(i, CHECK_IN);
    }
    const a = res.body;
    const first = d.nextCheckInAt === null;
    this.counters.checkIns++;
    this.failures[i] = 0;
    d.pendingResults.splice(0, results.length);
    d.managedBy = a.managedBy;
    this.certificate(i, a.mdmCertificate);
    d.nextCheckInAt = a.nextCheckInAt;
    if (first) this.startPolling(i);
    for (const command of a.commands) d.pendingResults.push(this.run(d, command));
    this.dirty = true;
    // Results go back at once, as a device answers its MDM commands; otherwise wait for the schedule.
    if (d.pendingResults.length > 0 || (this.renewalDue[i] && this.features.checkInCsr && !renew)) this.checkInNow(i);
    else this.schedule.at(i, scheduledAt(Date.parse(a.nextCheckInAt), this.opts.jitterMs, this.random));
  }

  /**
   * `Mdm-Signature` of a call's body (the poll's is empty) with `--sign`, once the server gave the
   * device a certificate for its own key (`pem`).
   */
  private signature(d: DeviceRecord, body: string): Record<string, string> | undefined {
    const pem = d.certificate.pem;
    return this.opts.sign && pem ? { 'mdm-signature': mdmSignature(body, pem, d.key) } : undefined;
  }

  /** R15: a new certificate for the key of the CSR sent, or a renewal the server made on its own. */
  private certificate(i: number, c: CheckInAnswer['mdmCertificate']): void {
    const d = this.state.devices[i];
    this.renewalDue[i] = c.renewalDue ? 1 : 0;
    if (c.pem && d.renewalKey) {
      d.key = d.renewalKey;
      delete d.renewalKey;
    }
    if (c.serial !== d.certificate.serial) this.counters.renewals++;
    d.certificate = { serial: c.serial, notAfter: c.notAfter, ...((c.pem ?? d.certificate.pem) && { pem: c.pem ?? d.certificate.pem }) };
  }

  /** R24: what a device does with a remote action; the result goes back with the next check-in. */
  private run(d: DeviceRecord, command: { commandId: string; type: string }): CommandResult {
    this.counters.commandsRun++;
    switch (command.type) {
      case 'remoteLock':
        d.locked = true;
        return { commandId: command.commandId, status: 'done' };
      case 'sync': // the check-in that brought it was the sync
      case 'wipe': // the server unenrolls the device; its next call gets 401 and it stops
      case 'retire':
        return { commandId: command.commandId, status: 'done' };
      default:
        return { commandId: command.commandId, status: 'failed', error: `unsupported command ${command.type}` };
    }
  }

  private remove(i: number): void {
    const d = this.state.devices[i];
    if (d.removed) return;
    d.removed = true;
    this.counters.removed++;
    this.schedule.cancel(i);
    this.retries.cancel(i * 2 + POLL);
    this.retries.cancel(i * 2 + CHECK_IN);
    this.dirty = true;
  }

  /** The device's next call after its failures in a row, on the retry heap (one timer for the whole fleet). */
  private retryLater(i: number, kind: typeof POLL | typeof CHECK_IN): void {
    const f = Math.min(this.failures[i], 6);
    this.failures[i] = f + 1;
    this.retries.at(i * 2 + kind, Date.now() + backoffDelay(this.backoff, f + 1));
  }

  /** Counted by kind; the first of each kind is logged with what the server said (`detail`), the cause to look for. */
  private error(kind: string, detail?: unknown): void {
    this.counters.errors++;
    const first = !(kind in this.counters.errorsByKind);
    this.counters.errorsByKind[kind] = (this.counters.errorsByKind[kind] ?? 0) + 1;
    if (first) this.opts.logger.warn({ kind, detail }, 'device-agent: first error of its kind');
  }
}

interface EnrollAnswer {
  deviceId: string;
  deviceCredential: string;
  managedBy: string;
  mdmCertificate: { serial: string; notAfter: string; pem?: string };
}

/**
 * The 401 that says the server does not know the device (any more). Another 401 (a refused
 * signature, or `UNAUTHENTICATED`: a poll URL that is not a gateway) is an error to show, not a removal.
 */
function unknownDevice(res: { status: number; body: unknown }): boolean {
  const body = res.body as { code?: string; message?: string } | undefined;
  return res.status === 401 && body?.code === 'UNAUTHORIZED' && !body.message?.startsWith('Mdm-Signature');
}

function errorCode(body: unknown): string {
  return (body as { code?: string } | undefined)?.code ?? '';
}

function errorKind(err: Error): string {
  return (err as NodeJS.ErrnoException).code ?? err.message.slice(0, 80);
}
