/**
 * npm run bench: throughput of the event-sourcing platform against its raw baselines, on the real
 * Postgres and Kafka. Prints a table and writes bench/results.json.
 *
 *   (a) raw pg multi-row INSERT            baseline of (b)
 *   (b) EventStore.append                  batch >= 0.5x (a); 8 single-event writers >= 2,500/s
 *   (c) raw kafkajs sendBatch              baseline of (d), per batch size
 *   (d) OutboxRelay draining the outbox    >= 0.7x (c) at the same batch size
 *   (e) InboxConsumer, batch mode          >= 10,000 events/s
 *   (f) enrollments through the gateway    >= 300/s, p99 < 200 ms, no non-201, 32 clients
 *       (baseline: raw pg BEGIN/INSERT/COMMIT at the same concurrency, informational)
 *   (g) authority change fan-out, 100,000 devices: notifications written and published <= 10 s
 *   (h) 10,000 waiting long polls answered after an authority change <= 5 s
 *   (i) check-ins through the gateway, 200 devices: >= 1,000/s, p99 < 250 ms
 *       (baseline: raw pg BEGIN/INSERT/COMMIT at up to 200 connections, informational)
 *   (i2) (i) while 20 admin commands/s land on the same tenant: same targets, and a probe device
 *       checking in right after each command always reflects it
 *   (l) unknown device credentials: one alone < 20 ms; 1,000 at concurrency 200 no slower (p99) than
 *       valid check-ins alone, and the valid check-ins beside them change p99 by < 20%
 *   (p) check-ins with 200 configurations assigned against 1: >= 0.8x; an unchanged check-in appends <= 1 KB
 *   (j) projection lag, device events at 5,000/s for 60 s: applied_at - recorded_at p99 < 1 s
 *   (k) projection rebuild of 1,000,000 events: >= 10,000 events/s
 *   (o) start-up of the built services (baseline: from the sources): each to /health 200 <= 2 s,
 *       idle RSS <= 120 MB, the whole stack <= 5 s; the production image's files against the full install
 *   (q) the console's migration dashboard for a 100,000-device tenant renders <= 1 s after its data
 *       arrives (Chromium; needs the console built; not in the default set: BENCH_ONLY=q)
 *   (m) the device agent, 10,000 devices with their polls open, through an authority change:
 *       change -> all migrated in the views <= 60 s; the agent's memory per device
 *   (n) check-ins at 200 concurrency through the gateway with two device-sync instances against one
 *       (ratio, informational: it depends on free cores), and one of the two killed under load:
 *       the last non-200 answer <= 15 s after the kill
 *   (m2) the device agent alone, 10,000 devices against a stub of the device API: its memory per
 *       device and its own speed (informational)
 *
 * BENCH_ONLY=a,b limits the scenarios; see config.ts for the other knobs.
 */
import { performance } from 'node:perf_hooks';
import { logger } from './config';
import { benchConfig as cfg } from './config';
import { BenchStack, processStack } from './process-stack';
import { benchKafka, benchStack, ensureDatabase, freeConnections, rawInsertCommit, seconds } from './infra';
import { BenchResult, printTable, writeResults } from './report';
import { bogusCredentialScenario, checkInUnderCommandsScenario } from './scenarios/device-consistency';
import { checkInScaleScenario } from './scenarios/check-in-scale';
import { agentAloneScenario, deviceAgentScenario } from './scenarios/device-agent';
import { checkInScenario, fanOutScenario, longPollScenario } from './scenarios/device-sync';
import { enrollScenario } from './scenarios/enroll';
import { eventStoreScenario } from './scenarios/event-store';
import { inboxConsumerScenario } from './scenarios/inbox-consumer';
import { kafkaProduceScenario } from './scenarios/kafka-produce';
import { outboxRelayScenario } from './scenarios/outbox-relay';
import { consoleScenario } from './scenarios/console';
import { pgInsertScenario } from './scenarios/pg-insert';
import { projectionLagScenario, projectionRebuildScenario } from './scenarios/projection';
import { startupScenario } from './scenarios/startup';
import { scaleOutScenario } from './scenarios/scale-out';

async function main(): Promise<void> {
  const started = performance.now();
  const on = (s: string) => cfg.only.includes(s);
  const results: BenchResult[] = [];
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    process.stdout.write(`${name} ... `);
    const out = await fn();
    process.stdout.write(`${seconds(t).toFixed(1)} s\n`);
    return out;
  };

  await ensureDatabase(cfg.databaseUrl);
  if (on('a') || on('b')) {
    const a = on('a') ? await step('(a) raw pg insert', pgInsertScenario) : undefined;
    if (a) results.push(...a.results);
    if (on('b')) results.push(...(await step('(b) event store', () => eventStoreScenario(a?.rowsPerSecond))));
  }
  if (on('c') || on('d') || on('e')) {
    const kafka = await benchKafka();
    if (on('c') || on('d')) {
      const sizes = on('d') ? cfg.relayBatchSizes : [cfg.relayBatchSizes[0]];
      const c = await step('(c) raw kafkajs produce', () => kafkaProduceScenario(kafka, sizes));
      if (on('c')) results.push(...c.results);
      if (on('d')) results.push(...(await step('(d) outbox relay', () => outboxRelayScenario(kafka, c.msgsPerSecond))));
    }
    if (on('e')) results.push(...(await step('(e) inbox consumer', () => inboxConsumerScenario(kafka))));
  }
  if (['f', 'g', 'h', 'i', 'i2', 'l', 'p', 'm', 'n'].some(on)) {
    await benchKafka(); // starts the project's broker when nothing answers
    // The raw baselines first: the stack's pools take most of Postgres's connections.
    const rawF = on('f') ? await step('(f) raw pg commit baseline', () => rawInsertCommit(cfg.enrollClients)) : undefined;
    const rawI = on('i') || on('i2') ? await step('(i) raw pg commit baseline', async () => rawInsertCommit(await freeConnections(200, 5))) : undefined;
    // The load scenarios run against the services as deployed, each a process of its own
    // (BENCH_STACK=in-process puts them in this process, as the fan-out and long-poll scenarios need).
    if (rawF || rawI || on('l') || on('p')) {
      const system = await step('services as processes', (): Promise<BenchStack> => (cfg.inProcess ? benchStack() : processStack()));
      try {
        if (rawF) results.push(...(await step('(f) enroll', () => enrollScenario(system, rawF))));
        if (rawI && on('i')) results.push(...(await step('(i) check-in', () => checkInScenario(system, rawI))));
        if (rawI && on('i2')) results.push(...(await step('(i2) check-in under commands', () => checkInUnderCommandsScenario(system, rawI))));
        if (on('l')) results.push(...(await step('(l) bogus credentials', () => bogusCredentialScenario(system))));
        if (on('p')) results.push(...(await step('(p) check-in, 200 configurations', () => checkInScaleScenario(system))));
      } finally {
        await system.stop();
      }
    }
    if (on('m')) {
      // A system of its own: (m) enrolls 10,000 devices, which would weigh on (f) and (i)'s figures.
      // Fewer connections per service: six services at 10 and the bench's own pools came near
      // Postgres's 100 on a machine that other test runs share ("too many clients" during the set-up).
      // A second gateway: the fleet's polls need more files than one process may hold (see the scenario).
      const system = await step('services as processes', () => processStack('dist', { DB_POOL_SIZE: process.env.BENCH_FLEET_DB_POOL_SIZE ?? '4' }, undefined, 1));
      try {
        results.push(...(await step('(m) device agent', () => deviceAgentScenario(system))));
      } finally {
        await system.stop();
      }
    }
    if (on('n')) {
      // A system of its own with two device-sync instances (the other scenarios measure one).
      const system = await step('services as processes, device-sync ×2', () => processStack('dist', {}, { 'device-sync': 2 }));
      try {
        results.push(...(await step('(n) two device-sync instances', () => scaleOutScenario(system))));
      } finally {
        await system.stop();
      }
    }
    if (on('g') || on('h')) {
      const stack = await step('stack in this process', benchStack);
      try {
        if (on('g')) results.push(...(await step('(g) fan-out', () => fanOutScenario(stack))));
        if (on('h')) results.push(...(await step('(h) long poll', () => longPollScenario(stack))));
      } finally {
        await stack.stop();
      }
    }
  }
  if (on('m2')) results.push(...(await step('(m2) device agent alone', () => agentAloneScenario())));
  if (on('j') || on('k')) {
    await benchKafka(); // starts the project's broker when nothing answers
    if (on('j')) results.push(...(await step('(j) projection lag', projectionLagScenario)));
    if (on('k')) results.push(...(await step('(k) projection rebuild', projectionRebuildScenario)));
  }
  if (on('o')) results.push(...(await step('(o) start-up', startupScenario)));
  if (on('q')) results.push(...(await step('(q) console dashboard', consoleScenario)));
  printTable(results);
  const file = writeResults(results);
  const judged = results.filter((r) => r.pass !== null);
  const failed = judged.filter((r) => !r.pass);
  process.stdout.write(
    `\n${judged.length - failed.length}/${judged.length} targets met; ${results.length} figures in ${file} (${seconds(started).toFixed(0)} s)\n`,
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    logger.error({ err }, 'bench failed');
    process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
