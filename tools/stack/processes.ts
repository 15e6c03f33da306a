import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { StackService, serviceCommand, servicesFrom, stackServices } from './services';

const root = path.resolve(__dirname, '../..');

export interface RunningProcess {
  app: string;
  url: string;
  child: ChildProcess;
}

export interface ProcessStack {
  services: RunningProcess[];
  /** The gateway's URL. */
  url: string;
  /** SIGTERM to every service, last started first; resolves once all exited. */
  stop(): Promise<void>;
}

export interface ProcessStackOptions {
  env: NodeJS.ProcessEnv;
  logDir: string;
  host?: string;
  /** Settings of one service on top of `env` (its port, schema, consumer group…). */
  serviceEnv?: (service: StackService) => Record<string, string>;
  /** A service that exits while the stack runs (not when stopped). */
  onExit?: (app: string, code: number | null) => void;
  onStarted?: (app: string, url: string) => void;
}

/**
 * Every service of the system as a child process of its own (`npm start`, the multi-process bench),
 * each started once the ones before it answer /health, and told where they are.
 */
export async function startProcessStack(opts: ProcessStackOptions): Promise<ProcessStack> {
  const host = opts.host ?? '127.0.0.1';
  const env: NodeJS.ProcessEnv = { ...opts.env };
  const services: RunningProcess[] = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    for (const { child } of [...services].reverse()) child.kill('SIGTERM');
    await Promise.all(services.map(({ child }) => (child.exitCode !== null ? null : new Promise((r) => child.once('exit', r)))));
  };
  mkdirSync(opts.logDir, { recursive: true });
  try {
    for (const service of stackServices) {
      const { app, definition, urlVariable } = service;
      const own = { ...env, ...opts.serviceEnv?.(service) };
      const port = Number(own[definition.portVariable] ?? definition.defaultPort);
      const url = `http://${host}:${port}`;
      const log = createWriteStream(path.join(opts.logDir, `${app}.log`), { flags: 'a' });
      const child = spawn(process.execPath, serviceCommand(app, servicesFrom(own)), {
        cwd: root,
        env: { ...own, [definition.portVariable]: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.pipe(log);
      child.stderr!.pipe(log);
      child.once('exit', (code) => {
        if (!stopping) opts.onExit?.(app, code);
      });
      services.push({ app, url, child });
      await waitHealthy(app, url, child, path.join(opts.logDir, `${app}.log`));
      opts.onStarted?.(app, url);
      if (urlVariable) env[urlVariable] = url;
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { services, url: services[services.length - 1].url, stop };
}

async function waitHealthy(name: string, url: string, child: ChildProcess, log: string, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}: see ${log}`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${name} did not become healthy within ${timeoutMs / 1000}s: see ${log}`);
}
