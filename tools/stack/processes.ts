import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { REPLICA_PORT_STEP, StackService, serviceCommand, servicesFrom, stackServices } from './services';
import { Exit, RestartPolicy, Supervisor, describeExit } from './supervisor';

const root = path.resolve(__dirname, '../..');

export interface RunningProcess {
  app: string;
  /** 0 for a service's first instance, 1 for its second… */
  instance: number;
  url: string;
  /** Keeps the service's process running; its `child` is the current process (a new one after a restart). */
  supervisor: Supervisor;
}

export interface ProcessStack {
  services: RunningProcess[];
  /** The (first) gateway's URL. */
  url: string;
  /** SIGTERM to every service, last started first, each drained before the next; resolves once all exited. */
  stop(): Promise<void>;
}

export interface ProcessStackOptions {
  env: NodeJS.ProcessEnv;
  logDir: string;
  host?: string;
  /** Settings of one service on top of `env` (its port, schema, consumer group…). */
  serviceEnv?: (service: StackService) => Record<string, string>;
  /** Says what the supervisors do (a service died, restarts, gives up). */
  say?: (line: string) => void;
  /** A service died too often in a row and is no longer restarted. */
  onGiveUp?: (app: string) => void;
  onStarted?: (app: string, url: string) => void;
  restartPolicy?: RestartPolicy;
  /** How long a service may take to answer /health 200 before the start fails (90 s by default). */
  healthTimeoutMs?: number;
  /** Instances per service (app → count, default 1): the further ones on the port plus 10, 20… */
  replicas?: Record<string, number>;
}

/**
 * Every service of the system as a supervised child process of its own (`npm start`, the
 * multi-process bench, the fault suite), all started at once: each one's URL is known before any
 * starts, and none calls another while starting (topics and migrations are safe to create
 * concurrently), so the gateway only needs the others' addresses, not their health. Resolves once
 * every service answers /health. A service that dies is restarted with backoff (its URL stays the same).
 */
export async function startProcessStack(opts: ProcessStackOptions): Promise<ProcessStack> {
  const host = opts.host ?? '127.0.0.1';
  const env: NodeJS.ProcessEnv = { ...opts.env };
  const services: RunningProcess[] = [];
  const say = opts.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  let stopping: Promise<void> | undefined;
  /** A service that kept dying while the stack was still starting: the start fails (and stops what it started). */
  let gaveUp: string | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // The gateway first, then what it calls: nothing is called after it stopped.
      for (const { supervisor } of [...services].reverse()) await supervisor.stop();
    })());
  mkdirSync(opts.logDir, { recursive: true });
  // Every instance's port and URL, known before any starts: the further instances of a service on its port plus 10, 20…
  const planned = stackServices.map((service) => {
    const extra = opts.serviceEnv?.(service) ?? {};
    const firstPort = Number(extra[service.definition.portVariable] ?? env[service.definition.portVariable] ?? service.definition.defaultPort);
    const count = opts.replicas?.[service.app] ?? 1;
    const ports = Array.from({ length: count }, (_, instance) => firstPort + instance * REPLICA_PORT_STEP);
    return { service, extra, ports, urls: ports.map((port) => `http://${host}:${port}`) };
  });
  // Every service is told where the others are (the gateway routes to them and balances across the
  // instances, the views ask the owners); callers move to the next instance when one refuses.
  for (const { service, urls } of planned) if (service.urlVariable) env[service.urlVariable] = urls.join(',');
  try {
    const started = planned.flatMap(({ service: { app, definition }, extra, ports, urls }) => {
      const own = { ...env, ...extra };
      return ports.map((port, instance) => {
        const name = ports.length > 1 ? `${app}#${instance + 1}` : app;
        const url = urls[instance];
        const logFile = path.join(opts.logDir, instance === 0 ? `${app}.log` : `${app}-${instance + 1}.log`);
        const log = createWriteStream(logFile, { flags: 'a' });
        const supervisor = new Supervisor({
          name,
          spawn: () =>
            spawn(process.execPath, serviceCommand(app, servicesFrom(own)), {
              cwd: root,
              env: { ...own, [definition.portVariable]: String(port) },
              stdio: ['ignore', 'pipe', 'pipe'],
            }),
          onSpawn: (child) => {
            child.stdout!.pipe(log, { end: false });
            child.stderr!.pipe(log, { end: false });
          },
          say: (line) => say(`${line}; see ${logFile}`),
          onGiveUp: (which) => {
            gaveUp ??= which;
            opts.onGiveUp?.(which);
          },
          policy: opts.restartPolicy,
        });
        services.push({ app, instance, url, supervisor });
        return waitHealthy(name, url, supervisor.exited, logFile, () => gaveUp, opts.healthTimeoutMs).then(() => opts.onStarted?.(name, url));
      });
    });
    // The first failure stops everything at once, without waiting for the others to be healthy.
    await Promise.all(started);
  } catch (err) {
    await stop();
    throw err;
  }
  return { services, url: services.find((s) => s.app === 'api-gateway')!.url, stop };
}

/** Waits until the service answers /health with 200; fails at once if its first process ends. */
async function waitHealthy(name: string, url: string, exited: Promise<Exit>, log: string, gaveUp: () => string | undefined, timeoutMs = 90_000) {
  let ended: Exit | undefined;
  void exited.then((exit) => (ended = exit));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (ended) throw new Error(`${name} ${describeExit(ended)} while starting: see ${log}`);
    const dying = gaveUp();
    if (dying) throw new Error(`${dying} kept dying while the stack started`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not become healthy within ${timeoutMs / 1000}s: see ${log}`);
}
