import { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Client, ClientConfig } from 'pg';
import { Clock } from '@mdm/platform/clock';
import { Sql } from '@mdm/platform/database';
import { Logger } from '@mdm/platform/logging';
import { backoffDelay } from '@mdm/platform/retry';
import { NotificationReason } from '../ports';
import { quoteIdent } from '@mdm/platform/database';

/** A notification as a poll answers it (API.md, GET /device/v1/notifications). */
export interface PolledNotification {
  notificationId: string;
  reason: NotificationReason;
  createdAt: string;
}

export interface LongPollHubDeps {
  /** The service's pool: takes and releases notifications. */
  db: Sql;
  /** A session of its own that LISTENs (Database.clientConfig()). */
  clientConfig: ClientConfig;
  /** The channel NotifierService wakes (payload: the tenant id). */
  channel: string;
  clock: Clock;
  logger: Logger;
  /** First delay before reconnecting a lost LISTEN session; doubles up to 30 s. */
  reconnectDelayMs?: number;
}

export interface Poll {
  /** The notifications the poll receives: at once when some are queued, else when one arrives or the wait is over ([]). */
  result: Promise<PolledNotification[]>;
  /** The client went away: stop waiting, and put back what it would have missed. */
  cancel(): void;
}

/** One waiting poll: a promise, a timer and a few fields; nothing runs for it until it is woken or times out. */
interface Waiter {
  deviceId: string;
  tenantId: string;
  done: boolean;
  /** What the hub handed it (kept so that a cancelled poll can put it back). */
  rows: PolledNotification[];
  timer: NodeJS.Timeout;
  resolve(rows: PolledNotification[]): void;
  reject(error: unknown): void;
  promise: Promise<PolledNotification[]>;
}

interface TakenRow {
  notification_id: string;
  device_id: string;
  tenant_id: string;
  reason: NotificationReason;
  created_at: Date;
}

const MAX_RECONNECT_DELAY_MS = 30_000;
/** Key of the take after a reconnect in `taking` (never a tenant id), so that stop() waits for it too. */
const CATCH_UP = '*';

/**
 * The waiting long polls of this process. A notification committed by any replica arrives here as
 * a NOTIFY carrying its tenant; the hub then takes, in one statement, the queued notifications of
 * every device of that tenant that is waiting here and answers those polls. Taking is an
 * `update ... where delivered_at is null returning`, so each notification goes to exactly one poll
 * even when replicas and polls race; what a poll that has just gone away was handed is put back.
 * NOTIFYs for one tenant that arrive while its take runs are folded into one more take.
 */
export class LongPollHub implements OnModuleInit, OnModuleDestroy {
  /** tenant → device → its waiting polls (a device may hold two while a dead connection lingers). */
  private readonly waiting = new Map<string, Map<string, Set<Waiter>>>();
  private readonly taking = new Map<string, Promise<void>>();
  private readonly wokenAgain = new Set<string>();
  private waiters = 0;
  private client: Client | undefined;
  private connected = false;
  private running = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: LongPollHubDeps) {}

  /** Waiting polls in this process. */
  get size(): number {
    return this.waiters;
  }

  /** Whether the LISTEN session is up (without it polls still answer: queued at once, else after their wait). */
  get listening(): boolean {
    return this.connected;
  }

  async onModuleInit(): Promise<void> {
    await this.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  /** Resolves after the first attempt to LISTEN; a failed one is retried in the background. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.connect();
  }

  /** Stops listening and answers every waiting poll with what it has (nothing). */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    // The polls are answered before the session ends: ending it waits for Postgres, which may be gone.
    for (const devices of [...this.waiting.values()]) {
      for (const set of [...devices.values()]) for (const w of [...set]) this.finish(w, []);
    }
    await client?.end().catch(() => undefined);
    await Promise.allSettled([...this.taking.values()]);
  }

  poll(device: { deviceId: string; tenantId: string }, waitSeconds: number): Poll {
    let cancelled = false;
    let waiter: Waiter | undefined;
    const result = (async () => {
      // Registered before looking, so that a notification committed meanwhile cannot slip between the two.
      if (waitSeconds > 0) waiter = this.register(device, waitSeconds * 1000);
      let queued: PolledNotification[];
      try {
        queued = (await this.take([device.deviceId])).map((t) => t.notification);
      } catch (err) {
        if (waiter) this.finish(waiter, []);
        throw err;
      }
      if (cancelled) {
        await this.release(queued);
        return [];
      }
      if (!waiter) return queued;
      if (queued.length === 0) return waiter.promise;
      this.finish(waiter, []);
      // The hub may have handed the waiter some while we looked: answer both, oldest first.
      return [...waiter.rows, ...queued].sort(byCreatedAt);
    })();
    return {
      result,
      cancel: () => {
        cancelled = true;
        if (!waiter) return;
        const handed = waiter.done ? waiter.rows : [];
        this.finish(waiter, []);
        if (handed.length) void this.release(handed).catch((err) => this.deps.logger.error({ err }, 'could not put notifications back'));
      },
    };
  }

  private register(device: { deviceId: string; tenantId: string }, waitMs: number): Waiter {
    let resolve!: (rows: PolledNotification[]) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<PolledNotification[]>((ok, ko) => ((resolve = ok), (reject = ko)));
    // A revocation that arrives while the poll answers from its queue has nobody awaiting it.
    promise.catch(() => undefined);
    // The only per-poll work while idle: one unref'd timer.
    const timer = setTimeout(() => this.finish(w, []), waitMs).unref();
    const w: Waiter = { ...device, done: false, rows: [], resolve, reject, promise, timer };
    let devices = this.waiting.get(device.tenantId);
    if (!devices) this.waiting.set(device.tenantId, (devices = new Map()));
    let set = devices.get(device.deviceId);
    if (!set) devices.set(device.deviceId, (set = new Set()));
    set.add(w);
    this.waiters++;
    return w;
  }

  private finish(w: Waiter, rows: PolledNotification[], revoked = false): void {
    if (w.done) return;
    w.done = true;
    w.rows = rows;
    clearTimeout(w.timer);
    const devices = this.waiting.get(w.tenantId);
    const set = devices?.get(w.deviceId);
    if (set?.delete(w)) this.waiters--;
    if (set && set.size === 0) devices!.delete(w.deviceId);
    if (devices && devices.size === 0) this.waiting.delete(w.tenantId);
    if (revoked) w.reject(new PollRevoked());
    else w.resolve(rows);
  }

  /** The device was unenrolled or removed (by whichever replica applied it): its waiting polls end. */
  private revoke(tenantId: string, deviceId: string): void {
    for (const w of [...(this.waiting.get(tenantId)?.get(deviceId) ?? [])]) this.finish(w, [], true);
  }

  /** A NOTIFY for the tenant: one take for all its waiting devices, and one more if woken meanwhile. */
  private wake(tenantId: string): void {
    if (!this.waiting.has(tenantId)) return;
    if (this.taking.has(tenantId)) {
      this.wokenAgain.add(tenantId);
      return;
    }
    const run = (async () => {
      do {
        this.wokenAgain.delete(tenantId);
        const devices = this.waiting.get(tenantId);
        if (!devices) break;
        if (await this.deliver([...devices.keys()])) this.wokenAgain.add(tenantId);
      } while (this.wokenAgain.has(tenantId));
    })()
      .catch((err) => this.deps.logger.error({ err, tenantId }, 'could not deliver notifications to waiting polls'))
      .finally(() => {
        this.taking.delete(tenantId);
        this.wokenAgain.delete(tenantId);
      });
    this.taking.set(tenantId, run);
  }

  /**
   * Takes the queued notifications of the devices and answers their waiting polls. A poll that ended
   * while the statement ran (timed out, went away) has its share put back. True when some were put
   * back for a device that is waiting again, so the caller takes once more.
   */
  private async deliver(deviceIds: string[]): Promise<boolean> {
    const taken = await this.take(deviceIds);
    const byDevice = new Map<string, { tenantId: string; rows: PolledNotification[] }>();
    for (const t of taken) {
      const entry = byDevice.get(t.deviceId) ?? { tenantId: t.tenantId, rows: [] };
      entry.rows.push(t.notification);
      byDevice.set(t.deviceId, entry);
    }
    const orphans: PolledNotification[] = [];
    const orphaned: { tenantId: string; deviceId: string }[] = [];
    for (const [deviceId, { tenantId, rows }] of byDevice) {
      const set = this.waiting.get(tenantId)?.get(deviceId);
      if (set) for (const w of [...set]) this.finish(w, rows);
      else {
        orphans.push(...rows);
        orphaned.push({ tenantId, deviceId });
      }
    }
    if (orphans.length === 0) return false;
    await this.release(orphans);
    return orphaned.some((d) => this.waiting.get(d.tenantId)?.has(d.deviceId));
  }

  /** Marks the devices' queued notifications delivered and returns them, oldest first. */
  private async take(deviceIds: string[]): Promise<{ deviceId: string; tenantId: string; notification: PolledNotification }[]> {
    if (deviceIds.length === 0) return [];
    const rows = await this.deps.db.query<TakenRow>(
      `with t as (
         update notifications set delivered_at = $2
          where device_id = any($1::uuid[]) and delivered_at is null
          returning notification_id, device_id, tenant_id, reason, created_at)
       select * from t order by created_at, notification_id`,
      [deviceIds, this.deps.clock.now()],
    );
    return rows.map((r) => ({
      deviceId: r.device_id,
      tenantId: r.tenant_id,
      notification: { notificationId: r.notification_id, reason: r.reason, createdAt: r.created_at.toISOString() },
    }));
  }

  /** Puts notifications a poll could not receive back in the queue. */
  private async release(rows: PolledNotification[]): Promise<void> {
    if (rows.length === 0) return;
    await this.deps.db.query('update notifications set delivered_at = null where notification_id = any($1::uuid[])', [
      rows.map((r) => r.notificationId),
    ]);
  }

  private async connect(): Promise<void> {
    if (!this.running || this.client) return;
    const client = new Client(this.deps.clientConfig);
    this.client = client;
    client.on('notification', ({ payload }) => {
      const revoked = payload && revokedDevice(payload);
      if (revoked) this.revoke(revoked.tenantId, revoked.deviceId);
      else if (payload) this.wake(payload);
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`listen ${quoteIdent(this.deps.channel)}`);
    } catch (err) {
      this.lost(client, err);
      return;
    }
    if (this.client !== client) return;
    this.connected = true;
    this.failures = 0;
    this.deps.logger.info({ channel: this.deps.channel }, 'long polls listening for notifications');
    // What was committed while nobody listened woke nobody: look once for every waiting device.
    const everyone = [...this.waiting.values()].flatMap((devices) => [...devices.keys()]);
    const catchUp = this.deliver(everyone)
      .then(() => undefined)
      .catch((err) => this.deps.logger.error({ err }, 'could not deliver notifications after reconnecting'))
      .finally(() => this.taking.delete(CATCH_UP));
    this.taking.set(CATCH_UP, catchUp);
  }

  private lost(client: Client, err?: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.connected = false;
    void client.end().catch(() => undefined);
    if (!this.running) return;
    const delay = backoffDelay({ initialMs: this.deps.reconnectDelayMs ?? 1000, maxMs: MAX_RECONNECT_DELAY_MS }, ++this.failures);
    this.deps.logger.warn({ err, delay }, 'long-poll LISTEN session lost; reconnecting');
    this.retryTimer = setTimeout(() => void this.connect(), delay).unref();
  }
}

/** A waiting poll whose device's credential stopped working (unenrolled or removed). */
export class PollRevoked extends Error {
  constructor() {
    super('the device was unenrolled or removed');
  }
}

/** The channel's payload that ends a device's waiting polls (any other payload is a tenant to wake). */
export const revokedPayload = (tenantId: string, deviceId: string) => `revoked:${tenantId}:${deviceId}`;

function revokedDevice(payload: string): { tenantId: string; deviceId: string } | undefined {
  const [kind, tenantId, deviceId] = payload.split(':');
  return kind === 'revoked' && tenantId && deviceId ? { tenantId, deviceId } : undefined;
}

function byCreatedAt(a: PolledNotification, b: PolledNotification): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.notificationId < b.notificationId ? -1 : 1;
}
