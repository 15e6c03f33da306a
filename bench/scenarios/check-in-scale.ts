import { randomUUID } from 'node:crypto';
import type { BenchStack } from '../process-stack';
import { httpCall, jsonCall, keepAliveAgent } from '../http';
import { BenchResult, result } from '../report';
import { seedDevices } from './device-sync';
import { CpuMeter, cpuRows } from '../cpu';
import { Run, closedLoop } from './enroll';

const state = { osVersion: '14.0', encrypted: true, jailbroken: false, passcodeSet: true };
export const SCALE_RATIO_TARGET = 0.8;
export const UNCHANGED_BYTES_TARGET = 1024;

/** A tenant of `clients` seeded devices whose users are in one group with `configurations` wifi profiles of intune assigned. */
async function seedAssigned(stack: BenchStack, clients: number, configurations: number) {
  const tenant = await seedDevices(stack, clients, 'intune');
  const db = stack.deviceSync.runtime.db;
  const group = randomUUID();
  await db.query('update users set group_ids = array[$2::uuid] where tenant_id = $1', [tenant.tenantId, group]);
  await db.query(
    `insert into configurations (configuration_id, tenant_id, authority, name, type, platforms, settings, assigned_group_ids, version)
     select gen_random_uuid(), $1, 'intune', 'Profile ' || lpad(g::text, 3, '0'), 'wifi', '{android}', '{"ssid": "corp"}', array[$2::uuid], 1
       from generate_series(1, $3::int) g`,
    [tenant.tenantId, group, configurations],
  );
  return tenant;
}

/**
 * (p) Check-ins at 200 concurrency with 200 configurations assigned against the same with one, in
 * turns in one run (each after its devices' first check-in gave them their configurations), and the
 * bytes a check-in that changed nothing appends to the event log.
 */
export async function checkInScaleScenario(stack: BenchStack): Promise<BenchResult[]> {
  const SCENARIO = '(p) check-in, 200 configurations';
  const clients = 200;
  const many = Number(process.env.BENCH_SCALE_CONFIGURATIONS ?? 200);
  const turnMs = Number(process.env.BENCH_SCALE_TURN_MS ?? 8_000);
  const [one, lots] = [await seedAssigned(stack, clients, 1), await seedAssigned(stack, clients, many)];
  const agent = keepAliveAgent(clients + 16);
  const checkIn = (prefix: string, client: number) => ({
    url: `${stack.gateway.url}/device/v1/check-in`,
    init: { method: 'POST', headers: { authorization: `Device ${prefix}-${client + 1}` }, body: { state } },
  });
  // The devices' answers are not parsed during the runs: the load generator shares the machine's
  // cores with the services, and parsing 200 configurations per answer would be its own cost, not
  // theirs. Their content is checked once each set has run (below).
  const loop = (prefix: string, ms: number) =>
    closedLoop(clients, Number.MAX_SAFE_INTEGER, ms, 200, async (_, client) => {
      const { url, init } = checkIn(prefix, client);
      const { status, text } = await httpCall(agent, url, { ...init, headers: { ...init.headers, 'content-type': 'application/json' }, body: JSON.stringify(init.body) });
      return { status, body: status === 200 ? undefined : text };
    });
  const configurationsListed = async (prefix: string) => {
    const { url, init } = checkIn(prefix, 0);
    const { body } = await jsonCall(agent, url, init);
    return (body as { configurations: unknown[] }).configurations.length;
  };
  // Warm-up: every device's first check-in reads and records its configurations.
  await loop(one.prefix, 3_000);
  await loop(lots.prefix, 3_000);
  const db = stack.deviceSync.runtime.db;
  const [{ since }] = await db.query<{ since: string }>('select max(global_position)::text as since from es_events');
  const runs: Record<'one' | 'lots', Run[]> = { one: [], lots: [] };
  const cpu: Record<'one' | 'lots', Map<string, number>> = { one: new Map(), lots: new Map() };
  const measured = async (set: 'one' | 'lots', prefix: string) => {
    const meter = stack.metered && (await CpuMeter.start(stack.metered()));
    runs[set].push(await loop(prefix, turnMs));
    for (const [name, ms] of meter ? await meter.used() : []) cpu[set].set(name, (cpu[set].get(name) ?? 0) + ms);
  };
  for (let turn = 0; turn < 2; turn++) {
    await measured('one', one.prefix);
    await measured('lots', lots.prefix);
  }
  const answered = { one: await configurationsListed(one.prefix), lots: await configurationsListed(lots.prefix) };
  if (answered.one !== 1 || answered.lots !== many) throw new Error(`check-in answers listed ${answered.one} and ${answered.lots} configurations, not 1 and ${many}`);
  await agent.destroy();
  const rate = (rs: Run[]) => rs.reduce((s, r) => s + r.done, 0) / rs.reduce((s, r) => s + r.seconds, 0);
  const done = (rs: Run[]) => rs.reduce((s, r) => s + r.done, 0);
  const p99 = (rs: Run[]) => Math.max(...rs.map((r) => r.p99));
  const failures = [...runs.one, ...runs.lots].reduce((s, r) => s + r.failures, 0);
  // What the measured check-ins of the 200-configuration devices appended (nothing changed for them).
  const [log] = await db.query<{ checkins: number; events: number; stored: number; json: number; configurations: number }>(
    `select count(*) filter (where type = 'DeviceCheckedIn')::int as checkins, count(*)::int as events,
            coalesce(sum(pg_column_size(e.*)), 0)::bigint::int as stored, coalesce(sum(octet_length(data::text)), 0)::bigint::int as json,
            count(*) filter (where type = 'DeviceConfigurationsChanged')::int as configurations
       from es_events e where global_position > $1::bigint and tenant_id = $2`,
    [since, lots.tenantId],
  );
  // The same check-in as it was recorded before (DeviceCheckedIn version 2, with the whole lists).
  const [{ listed }] = await db.query<{ listed: number }>(
    `select octet_length(jsonb_build_object('configurations', coalesce(jsonb_agg(jsonb_build_object('configurationId', configuration_id, 'name', name,
              'type', type, 'authority', authority, 'version', version)), '[]'), 'redundantConfigurations', '[]'::jsonb)::text) as listed
       from configurations where tenant_id = $1`,
    [lots.tenantId],
  );
  const perCheckIn = (bytes: number) => (log.checkins ? bytes / log.checkins : 0);
  return [
    result(SCENARIO, `check-ins, ${clients} devices, 1 configuration each`, rate(runs.one), 'check-in/s'),
    result(SCENARIO, `check-ins, ${clients} devices, ${many} configurations each`, rate(runs.lots), 'check-in/s', {
      baseline: rate(runs.one),
      target: SCALE_RATIO_TARGET,
    }),
    result(SCENARIO, `p99, 1 configuration`, p99(runs.one), 'ms'),
    result(SCENARIO, `p99, ${many} configurations`, p99(runs.lots), 'ms'),
    result(SCENARIO, 'non-200 answers', failures, 'answers', { target: 0, atMost: true }),
    result(SCENARIO, `configurations listed in a device's answer after the runs (checked: 1 and ${many})`, answered.lots, 'items'),
    result(SCENARIO, 'event-log bytes per unchanged check-in (stored row)', perCheckIn(log.stored), 'B', { target: UNCHANGED_BYTES_TARGET, atMost: true }),
    result(SCENARIO, 'event-log bytes per unchanged check-in (JSON data)', perCheckIn(log.json), 'B'),
    result(SCENARIO, `the same check-in's lists as DeviceCheckedIn v2 carried them (JSON)`, listed, 'B'),
    result(SCENARIO, 'configuration changes recorded for unchanged devices', log.configurations, 'events', { target: 0, atMost: true }),
    ...(cpu.one.size ? [...cpuRows(SCENARIO, cpu.one, done(runs.one), 'check-in, 1 configuration'), ...cpuRows(SCENARIO, cpu.lots, done(runs.lots), `check-in, ${many} configurations`)] : []),
  ];
}
