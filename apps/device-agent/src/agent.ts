import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Logger } from '@mdm/platform/logging';
import { withRetries } from '@mdm/platform/retry';
import { EnrollPlan, Fleet, FleetOptions } from './fleet';
import { GatewayClient, ServerFeatures, discoverFeatures } from './gateway-client';
import { standInApnsCertificatePem } from './identity';
import { ServerClock } from './server-clock';
import { FleetState, Platform, loadState, saveState } from './state-file';
import { SummaryReporter, memoryNow } from './summary';

export const PLATFORMS: readonly Platform[] = ['ios', 'ipados', 'macos', 'android', 'windows'];
const APPLE: readonly Platform[] = ['ios', 'ipados', 'macos'];

export interface AgentOptions extends Omit<FleetOptions, 'logger' | 'random'> {
  gateway: string;
  /** Where the devices long poll (default: the gateway). */
  pollUrls?: string[];
  stateFile: string;
  /** Fleet size: enrolls what the state file lacks. */
  devices: number;
  platforms: Platform[];
  noncompliantShare: number;
  tenantId?: string;
  /** Admin or enroller token to enroll with. */
  token?: string;
  /** For the views of the summary (and the set-up of users); default: token. */
  adminToken?: string;
  /** Creates a tenant when none is given or kept. */
  operatorToken?: string;
  authority: 'intune' | 'office365';
  /** Users to have (created through the API with the licence mix), or users given by id. */
  createUsers: number;
  licenses: string[];
  userIds?: string[];
  /** Long-poll sockets; default: one per device. */
  maxPolls?: number;
  clockRefreshMs: number;
  logger: Logger;
}

export interface RunningAgent {
  fleet: Fleet;
  state: FleetState;
  features: ServerFeatures;
  reporter: SummaryReporter;
  /** Enrolls what the fleet lacks (the devices start as they enroll). */
  enrollment: Promise<void>;
  save(): void;
  stop(): Promise<void>;
}

/**
 * A weighted mix (`android:2,ios:1`) as the list devices draw from in turn, interleaved
 * (a,b,a rather than a,a,b) so that any slice of a fleet has the mix.
 */
export function parseMix<T extends string>(text: string, allowed?: readonly T[]): T[] {
  const counts = new Map<T, number>();
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, weightText = '1'] = part.split(':');
    const weight = Number(weightText);
    if (allowed && !allowed.includes(name as T)) throw new Error(`unknown value ${name} (one of ${allowed.join(', ')})`);
    if (!Number.isInteger(weight) || weight < 1 || weight > 100) throw new Error(`${part}: the weight must be an integer 1..100`);
    counts.set(name as T, (counts.get(name as T) ?? 0) + weight);
  }
  if (counts.size === 0) throw new Error('an empty mix');
  return interleave(counts);
}

function interleave<T>(counts: Map<T, number>): T[] {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const keys = [...counts.keys()];
  const given = new Map(keys.map((k) => [k, 0]));
  const out: T[] = [];
  for (let i = 1; i <= total; i++) {
    // The value furthest behind its share of the first i draws.
    let best = keys[0];
    let gap = -Infinity;
    for (const k of keys) {
      const g = (counts.get(k)! * i) / total - given.get(k)!;
      if (g > gap) [best, gap] = [k, g];
    }
    given.set(best, given.get(best)! + 1);
    out.push(best);
  }
  return out;
}

/** The lines of a file of user ids (blank lines and `#` comments skipped). */
export function readUserIds(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** A set-up call; tried again (up to 5 times, backing off) while the server answers 5xx, as a loaded system may. */
async function expect2xx<T>(what: string, call: () => Promise<{ status: number; body: T }>): Promise<T> {
  const res = await withRetries({ retries: 4, backoff: { initialMs: 500, maxMs: 4_000 }, retryAnswer: (r) => r.status >= 500 }, call);
  if (res.status >= 200 && res.status <= 299) return res.body;
  throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
}

/** A tenant of its own on `authority`, ready for the platform mix (Apple: consent and a stand-in APNs certificate for both authorities, R12). */
async function createTenant(client: GatewayClient, opts: AgentOptions, now: Date): Promise<{ tenantId: string; adminToken: string }> {
  const t = await expect2xx(
    'create tenant',
    () => client.json<{ tenantId: string; adminToken: string }>('/api/v1/tenants', { method: 'POST', token: opts.operatorToken, body: { name: `Device agent ${randomBytes(3).toString('hex')}` } }),
  );
  const path = `/api/v1/tenants/${t.tenantId}`;
  const admin = (p: string, method: string, body: unknown) => expect2xx(`${method} ${p}`, () => client.json(`${path}${p}`, { method, token: t.adminToken, body }));
  await admin('/authority', 'PUT', { authority: opts.authority });
  if (opts.platforms.some((p) => APPLE.includes(p))) {
    await admin('/consents', 'POST', { kind: 'appleMdmPush' });
    for (const a of ['intune', 'office365']) await admin(`/authorities/${a}/apns-certificate`, 'PUT', { certificatePem: await standInApnsCertificatePem(now) });
  }
  return t;
}

/** Users through the API (there is no call listing a tenant's users), each with a licence of the mix (R8). */
async function createUsers(client: GatewayClient, state: FleetState, count: number, licenses: string[]): Promise<void> {
  const token = state.adminToken;
  if (!token) throw new Error('creating users needs an admin token (--admin-token)');
  const run = randomBytes(3).toString('hex');
  const path = `/api/v1/tenants/${state.tenantId}/users`;
  let next = state.users.length;
  const worker = async () => {
    while (next < count) {
      const k = next++;
      const user = await expect2xx(
        'create user',
        () => client.json<{ userId: string }>(path, { method: 'POST', token, body: { userPrincipalName: `agent-${run}-${k}@fleet.example` } }),
      );
      await expect2xx('license user', () => client.json(`${path}/${user.userId}/licenses`, { method: 'POST', token, body: { sku: licenses[k % licenses.length] } }));
      state.users.push(user.userId);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, count) }, worker));
}

/**
 * The agent: resumes the fleet of the state file (or starts one), sets up what it was asked to
 * (tenant, users), learns what the server accepts, starts the devices and enrolls the missing ones.
 */
export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  // What the agent itself takes before it holds any device: the summary's memory per device is the growth since.
  const baseline = memoryNow();
  const kept = loadState(opts.stateFile);
  if (kept && kept.gateway !== opts.gateway) opts.logger.info({ was: kept.gateway, now: opts.gateway }, 'device-agent: the gateway moved');
  const wanted = opts.devices;
  const pollSockets = Math.max(1, opts.maxPolls ?? Math.max(wanted, kept?.devices.length ?? 0));
  const client = new GatewayClient(opts.gateway, { commandSockets: opts.concurrency + opts.enrollConcurrency + 4, pollSockets }, opts.pollUrls);
  const clock = new ServerClock(client, opts.clockRefreshMs);
  await clock.sync();

  const state: FleetState = kept ?? { version: 1, gateway: opts.gateway, tenantId: opts.tenantId ?? '', users: [], devices: [] };
  state.gateway = opts.gateway;
  if (opts.tenantId && kept && kept.tenantId !== opts.tenantId) throw new Error(`${opts.stateFile} holds tenant ${kept.tenantId}, not ${opts.tenantId}`);
  if (opts.token) state.enrollToken = opts.token;
  if (opts.adminToken ?? opts.token) state.adminToken = opts.adminToken ?? opts.token;
  if (!state.tenantId) {
    if (!opts.operatorToken) throw new Error('no tenant: give --tenant and --token, or --operator-token to create one');
    const t = await createTenant(client, opts, new Date(clock.now()));
    Object.assign(state, { tenantId: t.tenantId, adminToken: t.adminToken, enrollToken: t.adminToken });
    opts.logger.info({ tenantId: t.tenantId }, 'device-agent: tenant created');
  }
  if (opts.userIds) state.users = opts.userIds;
  if (opts.createUsers > state.users.length) await createUsers(client, state, opts.createUsers, opts.licenses);
  saveState(opts.stateFile, state);

  // Every line of this fleet names its tenant.
  const logger = opts.logger.child({ tenantId: state.tenantId });
  const features = await discoverFeatures(client);
  logger.info({ features }, 'device-agent: server features');
  const fleet = new Fleet(state, client, features, clock, { ...opts, logger });
  clock.onJump = () => fleet.clockJumped();
  clock.start((err) => logger.warn({ err }, 'device-agent: reading the server clock failed'));
  fleet.start();
  const plan: EnrollPlan = { platforms: opts.platforms, noncompliantShare: opts.noncompliantShare };
  const save = () => {
    saveState(opts.stateFile, state);
    fleet.dirty = false;
  };
  const enrollment = fleet.enroll(Math.max(0, wanted - state.devices.length), plan).finally(save);
  enrollment.catch(() => undefined);
  return {
    fleet,
    state,
    features,
    reporter: new SummaryReporter(fleet, client, state, baseline),
    enrollment,
    save,
    stop: async () => {
      clock.stop();
      await fleet.stop();
      save();
    },
  };
}
