import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * The suite kills and restarts its dependencies, so it runs its own: a Postgres cluster and a Kafka
 * broker on ports of its own, in a temporary directory, never the shared ones.
 */
export interface FaultInfraPorts {
  postgres: number;
  kafka: number;
  kafkaController: number;
}

/** Runs a command as the `postgres` OS user when this process is root (initdb refuses root). */
function asPostgres(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const run = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  return execFileSync(run[0] as string, run[1] as string[], { cwd: opts.cwd ?? '/tmp', encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A Postgres 15 cluster of its own: initdb into a temporary directory, trust auth on 127.0.0.1. */
export class PrivatePostgres {
  readonly dir: string;
  private readonly data: string;

  constructor(
    readonly port: number,
    base: string,
  ) {
    this.dir = path.join(base, 'postgres');
    this.data = path.join(this.dir, 'data');
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/mdm`;
  }

  init(): void {
    mkdirSync(this.dir, { recursive: true });
    if (process.getuid?.() === 0) {
      const { uid, gid } = userIds('postgres');
      chownSync(this.dir, uid, gid);
    }
    chmodSync(this.dir, 0o700);
    asPostgres(path.join(PG_BIN, 'initdb'), ['-D', this.data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  }

  start(): void {
    asPostgres(path.join(PG_BIN, 'pg_ctl'), [
      '-D',
      this.data,
      '-l',
      path.join(this.dir, 'postgres.log'),
      '-w',
      '-t',
      '60',
      '-o',
      // fsync off: the suite tests the services' behaviour, not the disk's; max_connections for 6 services' pools.
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      'start',
    ]);
    asPostgres(path.join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', '-tAc', 'select 1']);
  }

  createDatabase(): void {
    const exists = asPostgres(path.join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', '-tAc', "select 1 from pg_database where datname = 'mdm'"]);
    if (!exists.trim()) asPostgres(path.join(PG_BIN, 'createdb'), ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', 'mdm']);
  }

  /** A restart as an operator does it: every session is disconnected, the server is gone for a moment. */
  restart(): void {
    asPostgres(path.join(PG_BIN, 'pg_ctl'), ['-D', this.data, '-m', 'fast', '-w', '-t', '60', 'restart', '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`, '-l', path.join(this.dir, 'postgres.log')]);
  }

  stop(): void {
    if (!existsSync(path.join(this.data, 'postmaster.pid'))) return;
    try {
      asPostgres(path.join(PG_BIN, 'pg_ctl'), ['-D', this.data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    }
  }
}

function userIds(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no OS user ${name}: the suite runs Postgres as it`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** A Kafka broker of its own (infra/kafka/kafka.sh with its own ports and state directory). */
export class PrivateKafka {
  readonly stateDir: string;

  constructor(
    readonly port: number,
    readonly controllerPort: number,
    base: string,
  ) {
    this.stateDir = path.join(base, 'kafka');
  }

  get brokers(): string {
    return `127.0.0.1:${this.port}`;
  }

  private env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      KAFKA_PORT: String(this.port),
      KAFKA_CONTROLLER_PORT: String(this.controllerPort),
      KAFKA_STATE_DIR: this.stateDir,
      KAFKA_STOP_TIMEOUT: '10',
    };
  }

  start(): void {
    execFileSync('bash', [path.join(root, 'infra/kafka/kafka.sh'), 'start'], { env: this.env(), stdio: ['ignore', 'ignore', 'inherit'] });
  }

  /** kill -9 of the broker's JVM. */
  kill(): void {
    const pid = Number(readFileSync(path.join(this.stateDir, 'kafka.pid'), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      execFileSync('sleep', ['0.05']);
    }
  }

  stop(): void {
    try {
      execFileSync('bash', [path.join(root, 'infra/kafka/kafka.sh'), 'stop'], { env: this.env(), stdio: 'ignore' });
    } catch {
      // not running
    }
  }
}

/** The suite's private infrastructure in a fresh temporary directory. */
export function privateInfra(ports: FaultInfraPorts): { postgres: PrivatePostgres; kafka: PrivateKafka; base: string; stop(keep?: boolean): void } {
  const base = mkdtempSync(path.join(os.tmpdir(), 'mdm-faults-'));
  chmodSync(base, 0o755);
  const postgres = new PrivatePostgres(ports.postgres, base);
  const kafka = new PrivateKafka(ports.kafka, ports.kafkaController, base);
  return {
    postgres,
    kafka,
    base,
    /** Stops both; `keep` leaves the directory (the services' logs) for whoever reads a failure. */
    stop(keep = false) {
      kafka.stop();
      postgres.stop();
      if (!keep) rmSync(base, { recursive: true, force: true });
    },
  };
}
