import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { WORKSPACE_ROOT, eventually, freePort, uniqueName } from '@mdm/platform/testing';
import { stackServices } from './services';

// `npm start` as a user runs it (tools/stack/start.ts, the services from their sources), with a
// broker of its own on private ports (never the shared one), a database of its own and free ports.

/** The command lines of a process's children. */
function childrenOf(pid: number): { pid: number; args: string }[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => ({ pid: Number(line.split(/\s+/)[0]), args: line.slice(line.indexOf(' ') + 1) }));
  } catch {
    return [];
  }
}

describe('npm start', () => {
  const state = mkdtempSync(path.join(tmpdir(), 'mdm-start-'));
  const database = uniqueName('start');
  let start: ChildProcess | undefined;
  let kafkaEnv: NodeJS.ProcessEnv;

  afterAll(async () => {
    if (start?.exitCode === null) start.kill('SIGKILL');
    // Whatever the outcome, the private broker goes (the test asserts that npm start stopped it).
    try {
      execFileSync('bash', [path.join(WORKSPACE_ROOT, 'infra/kafka/kafka.sh'), 'stop'], { env: kafkaEnv, stdio: 'ignore' });
    } catch {
      // not running
    }
    const admin = new Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`drop database if exists "${database}" with (force)`).catch(() => undefined);
    await admin.end();
    rmSync(state, { recursive: true, force: true });
  }, 60_000);

  it('gives up with a non-zero exit status when a service keeps dying, and stops the services and the broker it started', async () => {
    const kafkaPort = await freePort();
    kafkaEnv = { ...process.env, KAFKA_PORT: String(kafkaPort), KAFKA_CONTROLLER_PORT: String(await freePort()), KAFKA_STATE_DIR: path.join(state, 'kafka'), KAFKA_STOP_TIMEOUT: '10' };
    const ports: Record<string, string> = {};
    for (const { definition } of stackServices) ports[definition.portVariable] = String(await freePort());
    const databaseUrl = new URL(process.env.DATABASE_URL!);
    databaseUrl.pathname = `/${database}`;
    const env: NodeJS.ProcessEnv = { ...kafkaEnv, ...ports, DATABASE_URL: databaseUrl.toString(), MDM_SERVICES_FROM: 'src', LOG_LEVEL: 'warn', NX_DAEMON: 'false' };
    delete env.KAFKA_BROKERS;
    delete env.MDM_OPERATOR_TOKEN;
    delete env.MDM_GATEWAY_SIGNING_KEY;

    let output = '';
    start = spawn(process.execPath, ['-r', path.join(WORKSPACE_ROOT, 'tools/register.js'), path.join(WORKSPACE_ROOT, 'tools/stack/start.ts')], {
      cwd: state,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    start.stdout!.on('data', (chunk) => (output += chunk));
    start.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => start!.once('exit', (code) => resolve(code)));
    // Once licensing has started (the services after it may still be starting), it dies every time
    // it comes back, until npm start stops restarting it.
    await eventually(() => expect(output).toMatch(/licensing +http:/), 300_000, 200);
    const startPid = start.pid!;
    let kills = 0;
    let ended = false;
    void exited.then(() => (ended = true));
    while (!ended) {
      for (const child of childrenOf(startPid).filter((c) => c.args.includes('apps/licensing/src/main.ts'))) {
        try {
          process.kill(child.pid, 'SIGKILL');
          kills++;
        } catch {
          // already gone
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const code = await exited;

    expect(code).toBe(1);
    expect(kills).toBeGreaterThan(1);
    expect(output).toMatch(/licensing killed by SIGKILL; it died \d+ times in a row, giving up/);
    // No service answers any more, and the broker npm start had started is gone.
    for (const port of Object.values(ports)) await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    expect(() => execFileSync('bash', [path.join(WORKSPACE_ROOT, 'infra/kafka/kafka.sh'), 'status'], { env: kafkaEnv, stdio: 'ignore' })).toThrow();
  }, 480_000);
});
