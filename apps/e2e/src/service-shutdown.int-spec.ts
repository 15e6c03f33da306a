import { spawn } from 'node:child_process';
import path from 'node:path';
import { TcpProxy, WORKSPACE_ROOT, eventually, freePort, uniqueName } from '@mdm/platform/testing';

/** A service as `npm start` runs it: its own process, stopped by signals. */
describe('a service process stops by draining (runServiceMain)', () => {
  it('SIGTERM drains (the call in flight is answered) and exits 0; a second SIGTERM during the drain is logged and kills nothing', async () => {
    const port = await freePort();
    // Postgres through a proxy the test pauses: the call in flight, and so the drain, last until it resumes.
    const target = new URL(process.env.DATABASE_URL!);
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.open();
    const child = spawn(process.execPath, ['-r', path.join(WORKSPACE_ROOT, 'tools/register.js'), 'apps/authority/src/main.ts'], {
      cwd: WORKSPACE_ROOT,
      env: { ...process.env, DATABASE_URL: proxy.url(process.env.DATABASE_URL!), AUTHORITY_PORT: String(port), DB_SCHEMA: uniqueName('authority'), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    try {
      await eventually(async () => expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200), 60_000, 250);
      proxy.pause();
      const inFlight = fetch(`http://127.0.0.1:${port}/health`);
      await new Promise((r) => setTimeout(r, 200));
      child.kill('SIGTERM');
      await eventually(() => expect(out).toContain('"msg":"draining"'), 5_000, 5);
      child.kill('SIGTERM');
      await eventually(() => expect(out).toContain('"msg":"already draining"'), 5_000, 5);
      proxy.resume();
      expect([200, 503]).toContain((await inFlight).status);
      expect(await exited).toEqual({ code: 0, signal: null });
      const messages = out
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { msg: string }).msg)
        .filter((msg) => ['draining', 'already draining', 'drained'].includes(msg));
      expect(messages).toEqual(['draining', 'already draining', 'drained']);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await proxy.close();
    }
  }, 90_000);
});
