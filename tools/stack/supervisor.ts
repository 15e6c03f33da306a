import type { ChildProcess } from 'node:child_process';

export interface RestartPolicy {
  /** Delay before the first restart; it doubles with every restart that follows a short run. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A child that ran this long before dying counts as healthy: the next restart starts from initialDelayMs again. */
  stableAfterMs: number;
  /** Restarts in a row (each after a short run) before the supervisor gives up. */
  maxRestarts: number;
}

/** Fast first restarts (a killed service must serve again within seconds), bounded so a crash loop ends. */
export const defaultRestartPolicy: RestartPolicy = { initialDelayMs: 250, maxDelayMs: 8_000, stableAfterMs: 30_000, maxRestarts: 6 };

export interface SupervisorOptions {
  name: string;
  /** Starts the process (again). */
  spawn: () => ChildProcess;
  policy?: RestartPolicy;
  /** Says what happens: a death, a restart, giving up. */
  say: (line: string) => void;
  /** Called with each new child, e.g. to pipe its output. */
  onSpawn?: (child: ChildProcess) => void;
  /** The child died too often; it is not restarted again. */
  onGiveUp?: (name: string) => void;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
}

/** How a child ended: its exit code, or the signal that killed it (then Node's `exitCode` is null). */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function describeExit({ code, signal }: Exit): string {
  return signal ? `killed by ${signal}` : `exited with code ${code}`;
}

/**
 * Keeps one child process running: restarts it with backoff when it dies, gives up after too many
 * quick deaths. Node's ChildProcess fires 'exit' once, and a child killed by a signal keeps
 * `exitCode` null, so each child's end is captured as a promise the moment it is spawned.
 */
export class Supervisor {
  private current!: { child: ChildProcess; exited: Promise<Exit>; startedAt: number };
  private stopping = false;
  private restarts = 0;
  private delay: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly policy: RestartPolicy;
  private gaveUp = false;

  constructor(private readonly options: SupervisorOptions) {
    this.policy = options.policy ?? defaultRestartPolicy;
    this.delay = this.policy.initialDelayMs;
    this.launch();
  }

  get child(): ChildProcess {
    return this.current.child;
  }

  /** The current child's end. */
  get exited(): Promise<Exit> {
    return this.current.exited;
  }

  /** Whether the current child is still running. */
  get running(): boolean {
    return this.current.child.exitCode === null && this.current.child.signalCode === null;
  }

  /** Restarts done so far. */
  get restartCount(): number {
    return this.restarts;
  }

  private launch(): void {
    const child = this.options.spawn();
    const exited = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      // A spawn that fails (no such binary) emits 'error' and maybe no 'exit'.
      child.once('error', () => resolve({ code: child.exitCode ?? 127, signal: child.signalCode }));
    });
    const current = { child, exited, startedAt: Date.now() };
    this.current = current;
    this.options.onSpawn?.(child);
    void exited.then((exit) => this.onExit(current, exit));
  }

  private onExit(which: Supervisor['current'], exit: Exit): void {
    if (this.stopping || which !== this.current) return;
    const { name, say } = this.options;
    const { initialDelayMs, maxDelayMs, stableAfterMs, maxRestarts } = this.policy;
    if (Date.now() - which.startedAt >= stableAfterMs) {
      this.delay = initialDelayMs;
      this.restarts = 0;
    }
    if (this.restarts >= maxRestarts) {
      this.gaveUp = true;
      say(`${name} ${describeExit(exit)}; it died ${this.restarts + 1} times in a row, giving up`);
      this.options.onGiveUp?.(name);
      return;
    }
    this.restarts++;
    say(`${name} ${describeExit(exit)}; restarting in ${(this.delay / 1000).toFixed(2)} s (restart ${this.restarts})`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopping) this.launch();
    }, this.delay);
    this.delay = Math.min(maxDelayMs, this.delay * 2);
  }

  /** Whether the supervisor stopped restarting because the child kept dying. */
  get givenUp(): boolean {
    return this.gaveUp;
  }

  /**
   * Stops supervising and ends the child: SIGTERM (it drains), SIGKILL after stopTimeoutMs.
   * Calling it again only waits for the same end.
   */
  async stop(): Promise<Exit> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const { child, exited } = this.current;
    if (this.running) child.kill('SIGTERM');
    const timeoutMs = this.options.stopTimeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      if (this.running) {
        this.options.say(`${this.options.name} did not stop within ${timeoutMs / 1000} s of SIGTERM; killing it`);
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
