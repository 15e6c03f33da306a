import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { Client } from 'pg';
import { benchConfig } from './config';
import { BenchResult, result } from './report';

/** A process whose CPU time a scenario accounts for. */
export interface MeteredProcess {
  name: string;
  pid: number;
}

const TICKS_PER_SECOND = 100;

/** User + system CPU of a process, in ms (Linux /proc); 0 once it is gone. */
function cpuMs(pid: number): number {
  try {
    // Fields after the command (which may hold spaces) start after its closing parenthesis.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The local TCP ports of a process's sockets (its fds' socket inodes, looked up in /proc/net/tcp*). */
function localPorts(pids: number[]): Set<number> {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        if (inode) inodes.add(inode);
      } catch {
        // closed meanwhile
      }
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && inodes.has(cols[9])) ports.add(parseInt(cols[1].split(':')[1], 16));
    }
  }
  return ports;
}

/**
 * The Postgres backends serving these processes: matched by the client port of each connection,
 * since other runs may use the same database at the same time.
 */
async function postgresBackends(processes: MeteredProcess[]): Promise<number[]> {
  const ports = localPorts(processes.map((p) => p.pid));
  const client = new Client({ connectionString: benchConfig.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number; client_port: number }>('select pid, client_port from pg_stat_activity where client_port is not null');
    return rows.filter((r) => ports.has(r.client_port)).map((r) => r.pid);
  } finally {
    await client.end();
  }
}

/**
 * CPU time spent per unit of work by each of the stack's processes and by Postgres (the backends of
 * the bench database), over a window. Unlike a rate, this figure barely moves with what else runs on
 * a shared machine, so it compares two versions of the code where throughput cannot.
 */
export class CpuMeter {
  private constructor(
    private readonly processes: MeteredProcess[],
    private readonly start: Map<number, number>,
  ) {}

  static async start(processes: MeteredProcess[]): Promise<CpuMeter> {
    const backends = await postgresBackends(processes);
    return new CpuMeter(processes, new Map([...processes.map((p) => p.pid), ...backends].map((pid) => [pid, cpuMs(pid)])));
  }

  /** CPU ms used since the start, per process and for Postgres. */
  async used(): Promise<Map<string, number>> {
    // A backend that closed during the window took its CPU time with it: counted as none.
    const since = (pid: number) => Math.max(0, cpuMs(pid) - (this.start.get(pid) ?? 0));
    const own = new Set(this.processes.map((p) => p.pid));
    const postgres = [...new Set([...(await postgresBackends(this.processes)), ...this.start.keys()])].filter((pid) => !own.has(pid));
    return new Map([...this.processes.map((p) => [p.name, since(p.pid)] as const), ['postgres', postgres.reduce((sum, pid) => sum + since(pid), 0)]]);
  }

  /** Rows of CPU ms per unit, one per process and one for Postgres, and their sum. */
  async perUnit(scenario: string, units: number, noun: string): Promise<BenchResult[]> {
    return cpuRows(scenario, await this.used(), units, noun);
  }
}

/**
 * Rows of CPU µs per unit from what each process used, and their sum: in µs, since a process's
 * share of a check-in is tens of µs, and the table rounds to a tenth.
 */
export function cpuRows(scenario: string, used: Map<string, number>, units: number, noun: string): BenchResult[] {
  const total = [...used.values()].reduce((sum, ms) => sum + ms, 0);
  return [...used, ['all of them', total] as const].map(([name, ms]) => result(scenario, `CPU per ${noun}: ${name}`, (ms * 1000) / units, 'µs'));
}
