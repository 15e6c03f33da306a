import { spawn } from 'node:child_process';
import { RestartPolicy, Supervisor } from './supervisor';

/** A child process running `script` (plain JavaScript) with Node. */
const node = (script: string) => () => spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
const forever = 'setInterval(() => {}, 1000)';
const policy: RestartPolicy = { initialDelayMs: 40, maxDelayMs: 1000, stableAfterMs: 60_000, maxRestarts: 3 };

function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error('condition not met in time'));
      setTimeout(tick, 20);
    };
    tick();
  });
}

describe('Supervisor (npm start keeps every service running)', () => {
  const supervisors: Supervisor[] = [];
  const supervise = (options: ConstructorParameters<typeof Supervisor>[0]) => {
    const s = new Supervisor(options);
    supervisors.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(supervisors.splice(0).map((s) => s.stop()));
  });

  it('restarts a child killed by a signal (exitCode null) and says so', async () => {
    const lines: string[] = [];
    const s = supervise({ name: 'svc', spawn: node(forever), say: (l) => lines.push(l), policy });
    const first = s.child;
    await until(() => first.pid !== undefined);
    first.kill('SIGKILL');
    await until(() => s.child !== first && s.running);
    expect(first.exitCode).toBeNull();
    expect(lines).toEqual(['svc killed by SIGKILL; restarting in 0.04 s (restart 1)']);
    expect(s.child.pid).not.toBe(first.pid);
  });

  it('backs off, doubling, between quick deaths, then gives up once and stops restarting', async () => {
    const lines: string[] = [];
    const gaveUp: string[] = [];
    let spawned = 0;
    const s = supervise({
      name: 'crashy',
      spawn: () => (spawned++, node('process.exit(3)')()),
      say: (l) => lines.push(l),
      onGiveUp: (name) => gaveUp.push(name),
      policy,
    });
    await until(() => gaveUp.length > 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(lines).toEqual([
      'crashy exited with code 3; restarting in 0.04 s (restart 1)',
      'crashy exited with code 3; restarting in 0.08 s (restart 2)',
      'crashy exited with code 3; restarting in 0.16 s (restart 3)',
      'crashy exited with code 3; it died 4 times in a row, giving up',
    ]);
    expect(gaveUp).toEqual(['crashy']);
    expect(spawned).toBe(4);
    expect(s.givenUp).toBe(true);
  });

  it('starts again from the first delay after a child that ran long enough', async () => {
    const lines: string[] = [];
    const s = supervise({ name: 'svc', spawn: node(forever), say: (l) => lines.push(l), policy: { ...policy, stableAfterMs: 300 } });
    s.child.kill('SIGKILL');
    await until(() => lines.length === 1 && s.running);
    s.child.kill('SIGKILL');
    await until(() => lines.length === 2 && s.running);
    await new Promise((r) => setTimeout(r, 400));
    s.child.kill('SIGKILL');
    await until(() => lines.length === 3);
    expect(lines.map((l) => l.replace(/.*restarting in /, ''))).toEqual(['0.04 s (restart 1)', '0.08 s (restart 2)', '0.04 s (restart 1)']);
  });

  it('stop() lets the child drain after SIGTERM; a second stop() waits for the same end and kills nothing', async () => {
    const drain = `process.on('SIGTERM', () => setTimeout(() => { process.stdout.write('drained'); process.exit(0); }, 400)); ${forever}`;
    const lines: string[] = [];
    const s = supervise({ name: 'svc', spawn: node(drain), say: (l) => lines.push(l), policy });
    let out = '';
    s.child.stdout!.on('data', (d) => (out += d));
    await new Promise((r) => setTimeout(r, 300)); // the child has installed its handler
    const first = s.stop();
    await new Promise((r) => setTimeout(r, 100));
    const second = s.stop();
    expect(await first).toEqual({ code: 0, signal: null });
    expect(await second).toEqual({ code: 0, signal: null });
    expect(out).toBe('drained');
    expect(lines).toEqual([]);
  });

  it('stop() kills a child that ignores SIGTERM after the bound', async () => {
    const lines: string[] = [];
    const s = supervise({ name: 'stuck', spawn: node(`process.on('SIGTERM', () => {}); ${forever}`), say: (l) => lines.push(l), policy, stopTimeoutMs: 300 });
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    expect(await s.stop()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(lines).toEqual(['stuck did not stop within 0.3 s of SIGTERM; killing it']);
  });
});
