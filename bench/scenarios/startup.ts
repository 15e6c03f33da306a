import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { ServicesFrom, serviceCommand, stackServices } from '../../tools/stack/services';
import { benchConfig as cfg } from '../config';
import { benchKafka } from '../infra';
import { freePort } from '@mdm/platform/testing';
import { benchRunEnv, processStack } from '../process-stack';
import { BenchResult, result } from '../report';

const ROOT = path.resolve(__dirname, '../..');
const SERVICE_START_TARGET_MS = 2000;
const STACK_START_TARGET_MS = 5000;
const IDLE_RSS_TARGET_MB = 120;

/** Resident memory of a process, from /proc (Linux). */
function rssMb(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return kb / 1024;
}

async function untilHealthy(url: string, child: ChildProcess, app: string, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${app} exited with code ${child.exitCode}`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${app} did not answer /health 200 within ${timeoutMs / 1000} s`);
}

/**
 * One service alone, started cold (a process of its own on a schema of its own, so its migrations
 * run as at a first start): milliseconds to /health 200, then its RSS after idleMs of nothing to do.
 */
async function coldStart(app: string, from: ServicesFrom, run: string, idleMs: number): Promise<{ startMs: number; rssMb: number }> {
  const { definition } = stackServices.find((s) => s.app === app)!;
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...benchRunEnv(run),
    LOG_LEVEL: 'warn',
    [definition.portVariable]: String(port),
    DB_SCHEMA: `bench_${run}_${from}_${app.replace('-', '_')}`,
    ...(definition.consumes && { KAFKA_CONSUMER_GROUP: `bench-${run}.${from}.${definition.consumes.groupId}` }),
  };
  const started = performance.now();
  const child = spawn(process.execPath, serviceCommand(app, from), { cwd: ROOT, env, stdio: 'ignore' });
  try {
    await untilHealthy(`http://127.0.0.1:${port}`, child, app);
    const startMs = performance.now() - started;
    await new Promise((r) => setTimeout(r, idleMs));
    return { startMs, rssMb: rssMb(child.pid!) };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }
}

/** Bytes under a directory, as du counts them (disk usage), in MB. */
const diskMb = (dir: string) => Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]) / 1024;

/**
 * What the runtime image holds beside Node: the Dockerfile copies `dist/apps` (the bundles, which
 * carry their npm packages, their source maps, the console) and installs no node_modules.
 */
function runtimeFilesMb(): number {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  if (/node_modules|npm (ci|install)/.test(runtime)) throw new Error('the Dockerfile\'s runtime stage has node_modules again: measure them here');
  return diskMb(path.join(ROOT, 'dist/apps'));
}

/**
 * (o) Start-up of the built services (`node dist/apps/<app>/main.js`), against the sources through
 * tools/register.js as the baseline: each service alone to /health 200 and its idle RSS, the whole
 * stack with the broker running, and the production image's files against the full install.
 */
export async function startupScenario(): Promise<BenchResult[]> {
  await benchKafka(); // the broker runs before anything is timed
  const run = randomBytes(3).toString('hex');
  const results: BenchResult[] = [];
  try {
    for (const { app } of stackServices) {
      const source = await coldStart(app, 'src', run, cfg.idleMs);
      const built = await coldStart(app, 'dist', run, cfg.idleMs);
      results.push(
        result('o', `${app} cold start to /health 200`, built.startMs, 'ms', { baseline: source.startMs, target: SERVICE_START_TARGET_MS, targetOn: 'value', atMost: true }),
        result('o', `${app} idle RSS`, built.rssMb, 'MB', { baseline: source.rssMb, target: IDLE_RSS_TARGET_MB, targetOn: 'value', atMost: true }),
      );
    }
    const stackStart: Record<ServicesFrom, number> = { src: 0, dist: 0, watch: 0 };
    for (const from of ['src', 'dist'] as const) {
      const stack = await processStack(from);
      stackStart[from] = stack.startMs;
      await stack.stop();
    }
    results.push(
      result('o', 'whole stack start, broker running', stackStart.dist, 'ms', { baseline: stackStart.src, target: STACK_START_TARGET_MS, targetOn: 'value', atMost: true }),
      result('o', "production image: its files (bundles, no node_modules) vs the full install's node_modules", runtimeFilesMb(), 'MB', { baseline: diskMb(path.join(ROOT, 'node_modules')) }),
      // Start-up times are CPU-bound: how busy the machine was says how far they are from an idle one's.
      result('o', 'load average (1 min) at the end, on this many cores: ' + os.cpus().length, os.loadavg()[0], ''),
    );
  } finally {
    await cleanUp(run);
  }
  return results;
}

/** The topics, consumer groups and schemas of this run's single-service starts. */
async function cleanUp(run: string): Promise<void> {
  const admin = (await benchKafka()).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.includes(`.bench-${run}.`));
    if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
    const { groups } = await admin.listGroups();
    const ours = groups.map((g) => g.groupId).filter((g) => g.startsWith(`bench-${run}.`));
    if (ours.length) await admin.deleteGroups(ours).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
  const client = new Client({ connectionString: cfg.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>('select nspname as name from pg_namespace where nspname like $1', [`bench\\_${run}\\_%`]);
    for (const { name } of rows) await client.query(`drop schema if exists "${name}" cascade`);
  } finally {
    await client.end();
  }
}
