import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ManagingAuthority, TenantAuthority } from '@mdm/contracts/authority';
import { effectiveAuthority } from '@mdm/contracts/licensing';
import type { BenchStack } from '../process-stack';
import { Agent, Answer, expectStatus, jsonCall, keepAliveAgent, percentile } from '../http';
import { BenchResult, result } from '../report';
import { CHECK_IN_P99_TARGET_MS, CHECK_IN_TARGET_PER_SECOND, seedDevices } from './device-sync';
import { ReadYourWritesMeter } from '../read-your-writes-meter';
import { Run, closedLoop, gatewayCall, loadRows } from './enroll';

const state = { osVersion: '14.0', encrypted: true, jailbroken: false, passcodeSet: true };
/** (l): a bogus credential alone is answered within this; under a flood no slower than valid check-ins. */
export const BOGUS_ALONE_TARGET_MS = 20;
export const BOGUS_P99_RATIO_TARGET = 1;
export const VALID_P99_CHANGE_TARGET = 0.2;

/** What a probe device must be told after each command, from the commands alone (R8, R20, R21). */
class ProbeModel {
  authority: TenantAuthority = 'coexistence';
  extraLicense = false;
  groups: string[];
  readonly configurations = new Map<string, { authority: ManagingAuthority; groupId: string; id: string }>();
  managedBy: ManagingAuthority = 'office365';

  constructor(
    readonly groupA: string,
    readonly groupB: string,
  ) {
    this.groups = [groupA];
  }

  /** The managing authority and configuration names a check-in now must answer. */
  expected(): { managedBy: ManagingAuthority; configurations: string[] } {
    const target = effectiveAuthority(this.authority, this.extraLicense ? ['O365_E3', 'EMS_E3'] : ['O365_E3']);
    if (target) this.managedBy = target;
    const configurations = [...this.configurations]
      .filter(([, c]) => c.authority === this.managedBy && this.groups.includes(c.groupId))
      .map(([name]) => name)
      .sort();
    return { managedBy: this.managedBy, configurations };
  }
}

/**
 * (i2) (i)'s load, 200 devices checking in through the gateway, while admin commands land on their
 * tenants at 20 per second in all: authority (coexistence ↔ intune, each a fan-out to the tenant's
 * devices), configuration create and delete, license add and remove, group membership. The devices
 * belong to several tenants, each with its own probe sequence: after each command a probe device of
 * that tenant checks in at once, and its answer is compared with what the commands so far require.
 * Sequences of their own tenants run side by side without making each other's expectations ambiguous.
 */
export async function checkInUnderCommandsScenario(stack: BenchStack, raw: { rate: number }): Promise<BenchResult[]> {
  const SCENARIO = '(i2) check-in under commands';
  const clients = Number(process.env.BENCH_CHECK_IN_CLIENTS ?? 200);
  const durationMs = Number(process.env.BENCH_CHECK_IN_MS ?? 20_000);
  const warmupMs = Number(process.env.BENCH_CHECK_IN_WARMUP_MS ?? 5_000);
  const commandsPerSecond = Number(process.env.BENCH_COMMANDS_PER_SECOND ?? 20);
  const sequences = Number(process.env.BENCH_COMMAND_SEQUENCES ?? 8);
  const agent = keepAliveAgent(clients + sequences + 16);
  const device = (credential: string) => jsonCall(agent, `${stack.gateway.url}/device/v1/check-in`, { method: 'POST', headers: { authorization: `Device ${credential}` }, body: { state } });
  const tenants = await Promise.all(Array.from({ length: sequences }, () => probeSequence(stack, Math.ceil(clients / sequences), device)));
  const checkIn = (_: number, client: number) => device(`${tenants[client % sequences].tenant.prefix}-${Math.floor(client / sequences) + 1}`);

  const warm = await closedLoop(clients, Number.MAX_SAFE_INTEGER, warmupMs, 200, checkIn);
  if (warm.failures === warm.done) throw new Error(`warm-up: every check-in failed, e.g. ${warm.failureSample.join('; ')}`);
  const consistency = await ReadYourWritesMeter.start(stack.deviceSync.url);
  const deadline = performance.now() + durationMs;
  const commanding = Promise.all(tenants.map((t) => t.run(deadline, commandsPerSecond / sequences)));
  const run = await closedLoop(clients, Number.MAX_SAFE_INTEGER, durationMs, 200, checkIn);
  const outcomes = await commanding;
  const consistencyRows = await consistency.rows(SCENARIO);
  await agent.destroy();
  const total = (key: 'commands' | 'stale' | 'refused') => outcomes.reduce((sum, o) => sum + o[key], 0);
  const staleSample = outcomes.flatMap((o) => o.staleSample).slice(0, 3);
  if (staleSample.length) process.stdout.write(`\n  stale probe answers, e.g. ${staleSample.join('\n  ')}\n`);
  return [
    ...loadRows(SCENARIO, run, raw, {
      label: `check-ins, ${clients} devices of ${sequences} tenants via gateway, ${total('commands')} admin commands beside (${run.done}, ${Math.round(run.seconds)} s)`,
      noun: 'check-in',
      status: 200,
      rate: CHECK_IN_TARGET_PER_SECOND,
      p99: CHECK_IN_P99_TARGET_MS,
    }),
    result(SCENARIO, 'admin commands per second', total('commands') / run.seconds, 'commands/s', { target: commandsPerSecond * 0.95 }),
    result(SCENARIO, 'commands refused (non-2xx)', total('refused'), 'commands', { target: 0, atMost: true }),
    result(SCENARIO, 'probe check-ins right after a command not reflecting it', total('stale'), 'answers', { target: 0, atMost: true }),
    ...consistencyRows,
  ];
}

/**
 * A tenant of `devices` seeded devices with a probe user and device, and its command sequence: one
 * command of the cycle at a time, each followed at once by the probe's check-in, compared with the model.
 */
async function probeSequence(stack: BenchStack, devices: number, device: (credential: string) => Promise<Answer>) {
  const tenant = await seedDevices(stack, devices, 'coexistence');
  const admin = (method: string, path: string, body?: unknown) =>
    gatewayCall(stack, method, `/api/v1/tenants/${tenant.tenantId}${path}`, tenant.adminToken, body);
  const [{ groupId: a }, { groupId: b }] = [
    await expectStatus('group', 201, admin('POST', '/groups', { name: 'Probe A' })),
    await expectStatus('group', 201, admin('POST', '/groups', { name: 'Probe B' })),
  ];
  const { userId } = await expectStatus('user', 201, admin('POST', '/users', { userPrincipalName: `probe-${randomUUID()}@contoso.com`, groupIds: [a] }));
  await expectStatus('license', 200, admin('POST', `/users/${userId}/licenses`, { sku: 'O365_E3' }));
  const probe = await expectStatus(
    'enroll the probe',
    201,
    admin('POST', '/enrollments', { platform: 'android', enrollmentType: 'user', userId, serialNumber: `PROBE-${randomUUID()}`, osVersion: '14' }),
  );
  const model = new ProbeModel(a, b);

  let n = 0;
  /** One command of the cycle, in turn: the model follows what it asked for. */
  const command = async (): Promise<Answer> => {
    const i = n++;
    switch (i % 5) {
      case 0:
        model.authority = model.authority === 'coexistence' ? 'intune' : 'coexistence';
        return admin('PUT', '/authority', { authority: model.authority });
      case 1: {
        model.extraLicense = !model.extraLicense;
        return model.extraLicense ? admin('POST', `/users/${userId}/licenses`, { sku: 'EMS_E3' }) : admin('DELETE', `/users/${userId}/licenses/EMS_E3`);
      }
      case 2: {
        const name = `c-${i}`;
        const authority: ManagingAuthority = i % 2 ? 'intune' : 'office365';
        const groupId = i % 3 ? a : b;
        const res = await admin('POST', `/authorities/${authority}/configurations`, { name, type: 'wifi', platforms: ['android'], settings: {}, assignedGroupIds: [groupId] });
        if (res.status === 201) model.configurations.set(name, { authority, groupId, id: (res.body as { configurationId: string }).configurationId });
        return res;
      }
      case 3: {
        const oldest = [...model.configurations][0];
        // A few stay assigned, so that what a check-in answers is not always empty.
        if (!oldest || model.configurations.size < 6) return admin('GET', '/authority');
        const [name, c] = oldest;
        model.configurations.delete(name);
        return admin('DELETE', `/authorities/${c.authority}/configurations/${c.id}`);
      }
      default:
        model.groups = model.groups[0] === a ? [b] : [a];
        return admin('PUT', `/users/${userId}/groups`, { groupIds: model.groups });
    }
  };

  const run = async (deadline: number, perSecond: number) => {
    const outcome = { commands: 0, stale: 0, refused: 0, staleSample: [] as string[] };
    const every = 1000 / perSecond;
    for (let next = performance.now(); performance.now() < deadline; next += every) {
      const answer = await command();
      outcome.commands++;
      if (answer.status >= 300) outcome.refused++;
      const expected = model.expected();
      const got = await device(probe.deviceCredential);
      const body = got.body as { managedBy?: string; configurations?: { name: string }[] };
      const seen = { managedBy: body.managedBy, configurations: (body.configurations ?? []).map((c) => c.name).sort() };
      if (got.status !== 200 || JSON.stringify(seen) !== JSON.stringify(expected)) {
        outcome.stale++;
        if (outcome.staleSample.length < 3) outcome.staleSample.push(`${got.status} ${JSON.stringify(seen)} expected ${JSON.stringify(expected)}`);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, next + every - performance.now())));
    }
    return outcome;
  };
  return { tenant, run };
}

/** Half without the ids of a new credential, half naming a made-up tenant and device (enrollment is asked). */
const bogus = (i: number) =>
  i % 2 ? `dc_${randomBytes(32).toString('base64url')}` : `dc_${randomUUID()}.${randomUUID()}.${randomBytes(32).toString('base64url')}`;

/**
 * (l) Unknown device credentials: one alone (sequential calls), then 1,000 at concurrency 200 beside
 * 200 valid devices checking in, against the valid check-ins' p99 alone at the same concurrency.
 * The valid devices call from 127.0.0.1 and the bogus ones from addresses of their own (Linux answers
 * on all of 127/8), as a client guessing credentials is another client: the flood from one address
 * meets the gateway's limit on refused device calls (429 after DEVICE_FAILURE_LIMIT). The same flood
 * spread over 200 addresses, none of them reaching the limit, shows what a distributed guesser costs.
 */
export async function bogusCredentialScenario(stack: BenchStack): Promise<BenchResult[]> {
  const SCENARIO = '(l) bogus credentials';
  const clients = 200;
  const tenant = await seedDevices(stack, clients, 'intune');
  const agent = keepAliveAgent(clients + 16);
  const from = (localAddress: string) => keepAliveAgent(undefined, localAddress);
  const call = (through: Agent, credential: string) =>
    jsonCall(through, `${stack.gateway.url}/device/v1/check-in`, { method: 'POST', headers: { authorization: `Device ${credential}` }, body: { state } });
  const valid = (_: number, client: number) => call(agent, `${tenant.prefix}-${client + 1}`);

  const aloneFrom = from('127.0.0.3');
  const alone: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    const { status } = await call(aloneFrom, bogus(i));
    alone.push(performance.now() - t);
    if (status !== 401) throw new Error(`a bogus credential was answered ${status}`);
  }
  alone.sort((x, y) => x - y);

  await closedLoop(clients, Number.MAX_SAFE_INTEGER, 5_000, 200, valid); // warm-up
  const validAlone = await closedLoop(clients, Number.MAX_SAFE_INTEGER, 8_000, 200, valid);
  /** 1,000 bogus calls, client c through agents[c], while the valid devices keep checking in for as long as they last. */
  const flood = async (agents: Agent[]) => {
    let flooding = true;
    const beside = closedLoop(clients, Number.MAX_SAFE_INTEGER, 60_000, 200, valid, () => !flooding);
    const refused = { limited: 0, other: 0 };
    const run = await closedLoop(clients, 1000, 60_000, 401, async (i, client) => {
      const answer = await call(agents[client], bogus(i));
      if (answer.status === 429) refused.limited++;
      // A rate-limited guess is refused as it should be: the run counts only answers other than 401 and 429.
      return answer.status === 429 ? { ...answer, status: 401 } : answer;
    });
    flooding = false;
    const validBeside = await beside;
    await Promise.all(agents.map((a) => a.destroy()));
    return { run, refused, validBeside };
  };
  const one = await flood(Array(clients).fill(from('127.0.0.2')));
  const many = await flood(Array.from({ length: clients }, (_, c) => from(`127.1.${c >> 8}.${(c & 255) + 1}`)));
  await agent.destroy();
  await aloneFrom.destroy();
  const change = (beside: Run) => Math.abs(beside.p99 / validAlone.p99 - 1) * 100;
  return [
    result(SCENARIO, 'one bogus credential alone, p50 of 50 in turn', percentile(alone, 50), 'ms', { target: BOGUS_ALONE_TARGET_MS, atMost: true }),
    result(SCENARIO, 'one bogus credential alone, p99 of 50 in turn', percentile(alone, 99), 'ms'),
    result(SCENARIO, `valid check-ins alone, ${clients} concurrent: p99`, validAlone.p99, 'ms'),
    result(SCENARIO, `1,000 bogus from one address at ${clients} concurrent beside ${clients} valid: p99 vs valid alone`, one.run.p99, 'ms', {
      baseline: validAlone.p99,
      target: BOGUS_P99_RATIO_TARGET,
      atMost: true,
    }),
    result(SCENARIO, 'bogus from one address answered 429 (after the limit) rather than 401', one.refused.limited, 'answers'),
    result(SCENARIO, 'bogus answered other than 401 or 429', one.run.failures + many.run.failures, 'answers', { target: 0, atMost: true }),
    result(SCENARIO, 'valid check-ins beside the flood from one address: p99 change', change(one.validBeside), '%', {
      target: VALID_P99_CHANGE_TARGET * 100,
      atMost: true,
    }),
    result(SCENARIO, 'valid check-ins beside the floods answered other than 200', one.validBeside.failures + many.validBeside.failures, 'answers', {
      target: 0,
      atMost: true,
    }),
    result(SCENARIO, `1,000 bogus from ${clients} addresses (none limited): p99 vs valid alone`, many.run.p99, 'ms', { baseline: validAlone.p99 }),
    result(SCENARIO, 'bogus from many addresses answered 429', many.refused.limited, 'answers'),
    result(SCENARIO, 'valid check-ins beside the flood from many addresses: p99 change', change(many.validBeside), '%'),
  ];
}
