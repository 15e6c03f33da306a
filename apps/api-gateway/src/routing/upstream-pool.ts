import type { Logger } from 'pino';
import { instanceUrls } from '@mdm/platform/http-client';

/** How an instance answered its last health check. */
export type InstanceState = 'up' | 'degraded' | 'down';

export interface UpstreamPoolOptions {
  /** Between two health checks of every instance. */
  checkIntervalMs?: number;
  /** A check that takes longer counts as no answer. */
  checkTimeoutMs?: number;
  logger?: Logger;
}

/** The order in which instances are preferred: a degraded one still answers (its consumer is joining, say). */
const TIERS: InstanceState[] = ['up', 'degraded', 'down'];

/**
 * The instances of one service behind the gateway (`DEVICE_SYNC_URL=http://a,http://b`), balanced
 * round-robin. Each is asked /health every few seconds: one that does not answer is ejected until it
 * answers again, one that says `degraded` is used only when no instance is `up`. A call that cannot
 * connect ejects its instance at once (a killed process refuses before its next check). When every
 * instance is ejected, calls still go to them in turn: the caller gets the service's answer or a 503.
 */
export class UpstreamPool {
  readonly urls: string[];
  private readonly state = new Map<string, InstanceState>();
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;

  constructor(
    readonly service: string,
    urls: string | string[],
    private readonly options: UpstreamPoolOptions = {},
  ) {
    this.urls = typeof urls === 'string' ? instanceUrls(urls) : urls;
    if (this.urls.length === 0) throw new Error(`${service}: no instance URL`);
    for (const url of this.urls) this.state.set(url, 'up');
  }

  /** The instance for the next call. */
  pick(): string {
    const tier = TIERS.find((t) => this.urls.some((u) => this.state.get(u) === t))!;
    for (let i = 0; i < this.urls.length; i++) {
      const url = this.urls[this.next++ % this.urls.length];
      if (this.state.get(url) === tier) return url;
    }
    return this.urls[0];
  }

  /** The instances to try for one call, the picked one first: a refused connection moves on to the next. */
  candidates(): string[] {
    const first = this.pick();
    return [first, ...this.urls.filter((u) => u !== first && this.state.get(u) !== 'down'), ...this.urls.filter((u) => u !== first && this.state.get(u) === 'down')];
  }

  /** A call to the instance could not connect: ejected until a health check finds it again. */
  unreachable(url: string): void {
    this.set(url, 'down');
  }

  stateOf(url: string): InstanceState | undefined {
    return this.state.get(url);
  }

  /** Starts checking every instance's /health (only worth it with more than one). */
  start(): void {
    if (this.urls.length < 2 || this.timer) return;
    const interval = this.options.checkIntervalMs ?? 2_000;
    const loop = () => {
      this.timer = setTimeout(() => {
        this.checking = this.checkAll().finally(() => {
          this.checking = undefined;
          if (this.timer) loop();
        });
      }, interval);
    };
    loop();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.checking;
  }

  /** Asks every instance's /health once. */
  async checkAll(): Promise<void> {
    const timeoutMs = this.options.checkTimeoutMs ?? 1_500;
    await Promise.all(
      this.urls.map(async (url) => {
        const state = await fetch(`${url}/health`, { signal: AbortSignal.timeout(timeoutMs) }).then(
          async (res) => {
            await res.arrayBuffer().catch(() => undefined);
            return res.ok ? 'up' : 'degraded';
          },
          () => 'down' as const,
        );
        this.set(url, state);
      }),
    );
  }

  private set(url: string, state: InstanceState): void {
    const was = this.state.get(url);
    if (was === state) return;
    this.state.set(url, state);
    const log = state === 'down' ? 'ejected' : was === 'down' ? 'readmitted' : state;
    this.options.logger?.[state === 'down' ? 'warn' : 'info']({ service: this.service, instance: url, state }, `instance ${log}`);
  }
}
