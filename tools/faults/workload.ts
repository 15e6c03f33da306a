import { randomUUID } from 'node:crypto';
import { request } from 'node:http';

/** One command (or probe) sent through the gateway, and how it was answered. */
export interface Outcome {
  kind: 'tenant' | 'enroll' | 'checkIn' | 'user' | 'license' | 'authority' | 'bogusCheckIn';
  status: number;
  code?: string;
  /** Why the answer is not clean: a 500, another 5xx, a 503 without a code, a body that is not JSON, a hang, a reset. */
  bad?: string;
  /** The gateway refused or dropped the connection (only expected while the gateway itself is down). */
  dropped?: boolean;
  ms: number;
  /** When the answer came (epoch ms). */
  at: number;
  deviceId?: string;
  userId?: string;
  sku?: string;
  authority?: string;
  /** What the answer carried (a new device's credential). */
  body?: Record<string, unknown>;
}

/** Connection errors of a gateway process that is not there (refused) or died under the call (closed, reset). */
const DROPPED = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

/** A hang: an answer that takes longer than this is counted as bad. */
const CALL_TIMEOUT_MS = 15_000;

/** One HTTP exchange, from `localAddress` when given (Linux answers on all of 127/8: a client of its own). */
function exchange(
  url: string,
  init: { method: string; headers: Record<string, string>; payload?: string; localAddress?: string },
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: init.method, headers: init.headers, localAddress: init.localAddress, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(init.payload);
  });
}

/** Sends one call and classifies its answer by the suite's oracle ("clean 503 { code }, never a hang or a stack trace"). */
export async function call(
  kind: Outcome['kind'],
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: unknown; localAddress?: string },
): Promise<Outcome> {
  const started = Date.now();
  const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
  const headers: Record<string, string> = { ...init.headers };
  if (payload !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) });
  let res: { status: number; text: string };
  try {
    res = await exchange(url, { method: init.method, headers, payload, localAddress: init.localAddress });
  } catch (err) {
    const e = err as Error & { code?: string };
    const at = Date.now();
    const ms = at - started;
    if (e.name === 'AbortError') return { kind, status: 0, ms, at, bad: `no answer within ${CALL_TIMEOUT_MS / 1000} s` };
    const code = e.code ?? e.message;
    return DROPPED.has(code) ? { kind, status: 0, ms, at, dropped: true, code } : { kind, status: 0, ms, at, bad: `connection ${code}` };
  }
  const { status, text } = res;
  const at = Date.now();
  const ms = at - started;
  let body: Record<string, unknown> | undefined;
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    return { kind, status, ms, at, bad: `not JSON: ${text.slice(0, 80)}` };
  }
  const code = typeof body?.code === 'string' ? body.code : undefined;
  const ok = status >= 200 && status < 300;
  const outcome: Outcome = { kind, status, ms, at, ...(code && { code }), ...(ok && body && { body }) };
  if (status >= 500 && !(status === 503 && code)) outcome.bad = `${status} ${code ?? ''} ${text.slice(0, 120)}`.trim();
  if (status >= 400 && text.includes('    at ')) outcome.bad = `a stack trace in a ${status}`;
  return outcome;
}

/** A tenant of one case, with what the workload made in it. */
export class CaseTenant {
  readonly outcomes: Outcome[] = [];
  readonly devices: { deviceId: string; credential: string }[] = [];
  readonly users: string[] = [];

  constructor(
    readonly gateway: string,
    readonly tenantId: string,
    readonly adminToken: string,
  ) {}

  path(suffix = ''): string {
    return `${this.gateway}/api/v1/tenants/${this.tenantId}${suffix}`;
  }

  private admin(): Record<string, string> {
    return { authorization: `Bearer ${this.adminToken}` };
  }

  private record(o: Outcome): Outcome {
    this.outcomes.push(o);
    return o;
  }

  async enroll(): Promise<Outcome> {
    const o = await call('enroll', this.path('/enrollments'), {
      method: 'POST',
      headers: this.admin(),
      body: { platform: 'windows', enrollmentType: 'bulk', serialNumber: `SN-${randomUUID()}`, osVersion: '10.0.22631' },
    });
    if (o.status === 201 && o.body) {
      o.deviceId = o.body.deviceId as string;
      this.devices.push({ deviceId: o.deviceId, credential: o.body.deviceCredential as string });
    }
    delete o.body;
    return this.record(o);
  }

  async checkIn(device = this.devices[Math.floor(Math.random() * this.devices.length)]): Promise<Outcome | undefined> {
    if (!device) return undefined;
    const o = await call('checkIn', `${this.gateway}/device/v1/check-in`, {
      method: 'POST',
      headers: { authorization: `Device ${device.credential}` },
      body: { state: { osVersion: '10.0.22631', encrypted: true, jailbroken: false, passcodeSet: true } },
    });
    o.deviceId = device.deviceId;
    delete o.body;
    return this.record(o);
  }

  /** A new user with a license: licensing's read-your-writes on the tenant's authority (DEPENDENCY_LAGGING). */
  async licensedUser(): Promise<Outcome> {
    const created = await call('user', this.path('/users'), {
      method: 'POST',
      headers: this.admin(),
      body: { userPrincipalName: `u-${randomUUID()}@contoso.com` },
    });
    const userId = created.status === 201 ? (created.body?.userId as string) : undefined;
    delete created.body;
    created.userId = userId;
    this.record(created);
    if (!userId) return created;
    this.users.push(userId);
    const licensed = await call('license', this.path(`/users/${userId}/licenses`), { method: 'POST', headers: this.admin(), body: { sku: 'EMS_E3' } });
    delete licensed.body;
    return this.record({ ...licensed, userId, sku: 'EMS_E3' });
  }

  async setAuthority(authority: string): Promise<Outcome> {
    const o = await call('authority', this.path('/authority'), { method: 'PUT', headers: this.admin(), body: { authority } });
    delete o.body;
    return this.record({ ...o, authority });
  }
}

/** Commands flowing from a few workers until stopped: enrollments, check-ins, licensed users. */
export class Workload {
  private running = false;
  private workers: Promise<void>[] = [];

  constructor(
    private readonly tenant: CaseTenant,
    private readonly concurrency = 3,
  ) {}

  start(): void {
    this.running = true;
    for (let i = 0; i < this.concurrency; i++) this.workers.push(this.loop());
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const r = Math.random();
      if (r < 0.4) await this.tenant.enroll();
      else if (r < 0.85) await this.tenant.checkIn();
      else await this.tenant.licensedUser();
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
    this.workers = [];
  }
}
