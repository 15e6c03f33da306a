import { createHash } from 'node:crypto';

export interface DeviceFailureLimitOptions {
  /** Failed device calls one client address may make in a window before it is refused. */
  limit: number;
  windowMs: number;
  /** Addresses and credentials remembered at most (the oldest go first): a flood of addresses cannot grow memory. */
  maxEntries: number;
  /** How long a credential that was answered 2xx passes an address's limit. */
  knownMs: number;
  now?: () => number;
}

interface Window {
  start: number;
  failures: number;
}

const credentialKey = (credential: string) => createHash('sha256').update(credential).digest('base64url');

/**
 * Repeated failures from one client are refused at the gateway (API.md's device calls; issue
 * "device calls see every command"): after `limit` device calls answered 401 in a window, the
 * address's further device calls get 429 with Retry-After until the window ends, and cost a map
 * lookup instead of a trip to device-sync. A credential answered 2xx within `knownMs` still passes,
 * so a fleet behind one NAT address keeps checking in while something inside it guesses credentials.
 * Only failures count: a busy address of good devices is never limited.
 */
export class DeviceFailureLimit {
  private readonly windows = new Map<string, Window>();
  private readonly known = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: DeviceFailureLimitOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Seconds the caller must wait, or undefined when the call may go on. */
  retryAfter(address: string, credential: string | undefined): number | undefined {
    const window = this.windows.get(address);
    if (!window || window.failures < this.options.limit) return undefined;
    const now = this.now();
    const endsIn = window.start + this.options.windowMs - now;
    if (endsIn <= 0) {
      this.windows.delete(address);
      return undefined;
    }
    if (credential !== undefined) {
      const knownUntil = this.known.get(credentialKey(credential));
      if (knownUntil !== undefined && knownUntil > now) return undefined;
    }
    return Math.ceil(endsIn / 1000);
  }

  /** What device-sync answered this address's call with this credential. */
  record(address: string, credential: string | undefined, status: number): void {
    const now = this.now();
    if (status === 401) {
      let window = this.windows.get(address);
      if (!window || window.start + this.options.windowMs <= now) {
        this.windows.delete(address);
        window = { start: now, failures: 0 };
        remember(this.windows, address, window, this.options.maxEntries);
      }
      window.failures++;
    } else if (status >= 200 && status < 300 && credential !== undefined) {
      // Every good credential, from any address: a device need not have called since its address began
      // failing (a fleet of 10,000 behind one address, a few of them unenrolled, must keep working).
      const key = credentialKey(credential);
      this.known.delete(key);
      remember(this.known, key, now + this.options.knownMs, this.options.maxEntries);
    }
  }
}

/** Sets a key as the newest of a Map (insertion order), dropping the oldest beyond `max`. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as string);
}
