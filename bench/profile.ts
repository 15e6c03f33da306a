import 'reflect-metadata';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

const TICK_MS = 10; // USER_HZ = 100 on Linux

/**
 * utime + stime, in ms, of every process whose command name starts with one of `names` and, when
 * given, whose command line matches `argsMatch` (Linux /proc).
 */
function processCpuMs(names: string[], argsMatch?: RegExp): number {
  let ticks = 0;
  for (const pid of safeReaddir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!names.some((n) => comm.startsWith(n))) continue;
      if (argsMatch && !argsMatch.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15 of stat)
    } catch {
      // the process ended
    }
  }
  return ticks * TICK_MS;
}

/** Cumulative ms of all cores by kind (user, nice, system, idle, iowait, irq, softirq, steal), from /proc/stat. */
function machineCpuMs(): number[] {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    return line.trim().split(/\s+/).slice(1, 9).map((v) => Number(v) * TICK_MS);
  } catch {
    return [];
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Share of the machine's cores busy over `ms` (the other engineer's builds and tests skew a run). */
export async function machineBusy(ms = 1000): Promise<number> {
  const m0 = machineCpuMs();
  await new Promise((r) => setTimeout(r, ms));
  const d = machineCpuMs().map((v, i) => v - m0[i]);
  const total = d.reduce((a, b) => a + b, 0);
  return total ? (total - d[3] - d[4]) / total : NaN;
}

/**
 * CPU used over a window by this Node process, the bench database's Postgres backends, Kafka (java)
 * and everything else, as % of one core, and the machine's split.
 */
export function cpuSampler(database = 'mdm_bench'): { stop(): { text: string; nodeMs: number; postgresMs: number; otherMs: number } } {
  const t0 = performance.now();
  const node0 = process.cpuUsage();
  // The database's backends and the server's shared writers (WAL, checkpoints), not other databases' backends.
  const ours = new RegExp(`${database.replace(/[^\w]/g, '\\$&')}|walwriter|checkpointer|background writer`);
  const pg0 = processCpuMs(['postgres'], ours);
  const java0 = processCpuMs(['java']);
  const m0 = machineCpuMs();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  return {
    stop() {
      loop.disable();
      const wall = performance.now() - t0;
      const node = process.cpuUsage(node0);
      const pct = (ms: number) => `${Math.round((ms / wall) * 100)}%`;
      const m1 = machineCpuMs();
      const d = m1.map((v, i) => v - m0[i]);
      const total = d.reduce((a, b) => a + b, 0);
      const share = (i: number) => Math.round((d[i] / total) * 100);
      const nodeMs = (node.user + node.system) / 1000;
      const pgMs = processCpuMs(['postgres'], ours) - pg0;
      const javaMs = processCpuMs(['java']) - java0;
      const busyMs = ((total - d[3] - d[4]) / total) * wall * cpus().length;
      const machine = `machine ${100 - share(3) - share(4)}% busy of ${cpus().length} cores (user ${share(0) + share(1)}%, system ${share(2)}%, softirq ${share(6)}%, steal ${share(7)}%)`;
      const otherMs = Math.max(0, busyMs - nodeMs - pgMs - javaMs);
      const text = [
        `node ${pct(nodeMs)}`,
        `postgres (${database} + writers) ${pct(pgMs)}`,
        `kafka ${pct(javaMs)}`,
        `everything else ${pct(otherMs)}`,
        machine,
        `event-loop delay p50 ${(loop.percentile(50) / 1e6).toFixed(0)} ms p99 ${(loop.percentile(99) / 1e6).toFixed(0)} ms`,
      ].join(', ');
      return { text, nodeMs, postgresMs: pgMs, otherMs };
    },
  };
}

interface Timing {
  sum: number;
  count: number;
}

/**
 * Wraps async methods of the given prototypes with timers (wall time per call, waits for the pool
 * and the event loop included); `report` gives the mean per method since `reset`. Wrap before the
 * services start: Nest binds controller methods at start-up.
 */
export function timeMethods(targets: { label: string; proto: object; methods: string[] }[]) {
  const timings = new Map<string, Timing>();
  const originals: (() => void)[] = [];
  for (const { label, proto, methods } of targets) {
    const p = proto as Record<string, unknown>;
    for (const m of methods) {
      const original = p[m] as (...args: unknown[]) => Promise<unknown>;
      if (typeof original !== 'function') throw new Error(`${label}.${m} is not a method`);
      const name = `${label}.${m}`;
      const wrapped = async function (this: unknown, ...args: unknown[]) {
        const t = performance.now();
        try {
          return await original.apply(this, args);
        } finally {
          const e = timings.get(name) ?? { sum: 0, count: 0 };
          e.sum += performance.now() - t;
          e.count++;
          timings.set(name, e);
        }
      };
      // Nest reads route metadata off the method itself: carry it over.
      for (const key of Reflect.getMetadataKeys(original)) Reflect.defineMetadata(key, Reflect.getMetadata(key, original), wrapped);
      p[m] = wrapped;
      originals.push(() => (p[m] = original));
    }
  }
  return {
    reset: () => timings.clear(),
    report: () =>
      [...timings].map(([name, e]) => `${name.padEnd(40)} n=${String(e.count).padStart(6)} mean ${(e.sum / e.count).toFixed(1).padStart(6)} ms`),
    restore: () => originals.forEach((undo) => undo()),
  };
}
