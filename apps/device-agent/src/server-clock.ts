import { GatewayClient } from './gateway-client';
import { TimeSource } from './scheduler';

/**
 * The server's time as this process sees it: the offset of `GET /api/v1/system/clock` from the
 * local clock, read again every refreshMs. Under the test clock (MDM_TEST_CLOCK=1) the server's
 * time moves only when an operator advances it; the next read sees the jump and onJump lets the
 * schedule run what became due. Between reads the estimate moves with local time, so under a
 * frozen test clock it runs ahead by at most refreshMs (a scheduled check-in may come that much
 * early, well inside its jitter).
 */
export class ServerClock implements TimeSource {
  private offset = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Called when a read finds the server's time ahead of the estimate by more than a second. */
  onJump: () => void = () => undefined;

  constructor(
    private readonly client: GatewayClient,
    private readonly refreshMs: number,
  ) {}

  now(): number {
    return Date.now() + this.offset;
  }

  async sync(): Promise<void> {
    const sent = Date.now();
    const res = await this.client.json<{ now: string }>('/api/v1/system/clock');
    if (res.status !== 200) throw new Error(`GET /api/v1/system/clock: ${res.status}`);
    const received = Date.now();
    const offset = Date.parse(res.body.now) - (sent + received) / 2;
    const jumped = offset - this.offset > 1000;
    this.offset = offset;
    if (jumped) this.onJump();
  }

  start(onError: (err: Error) => void): void {
    this.timer = setInterval(() => this.sync().catch(onError), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
