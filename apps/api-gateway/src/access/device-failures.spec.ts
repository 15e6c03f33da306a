import { DeviceFailureLimit } from './device-failures';

describe('DeviceFailureLimit: repeated refused device calls from one client are refused at the gateway', () => {
  let now = 0;
  const limiter = (over: Partial<ConstructorParameters<typeof DeviceFailureLimit>[0]> = {}) =>
    new DeviceFailureLimit({ limit: 3, windowMs: 10_000, maxEntries: 1000, knownMs: 60_000, now: () => now, ...over });

  beforeEach(() => {
    now = 1_000_000;
  });

  it('lets an address make `limit` failed calls, then answers Retry-After until its window ends', () => {
    const l = limiter();
    for (let i = 0; i < 3; i++) {
      expect(l.retryAfter('10.0.0.1', `Device bogus-${i}`)).toBeUndefined();
      l.record('10.0.0.1', `Device bogus-${i}`, 401);
    }
    now += 2_500;
    expect(l.retryAfter('10.0.0.1', 'Device bogus-4')).toBe(8);
    now += 7_499;
    expect(l.retryAfter('10.0.0.1', 'Device bogus-4')).toBe(1);
    now += 1;
    expect(l.retryAfter('10.0.0.1', 'Device bogus-4')).toBeUndefined();
  });

  it('limits only the address that failed', () => {
    const l = limiter();
    for (let i = 0; i < 3; i++) l.record('10.0.0.1', `Device bogus-${i}`, 401);
    expect(l.retryAfter('10.0.0.1', undefined)).toBe(10);
    expect(l.retryAfter('10.0.0.2', 'Device bogus-0')).toBeUndefined();
  });

  it('never limits an address for calls that succeed or fail other than 401', () => {
    const l = limiter();
    for (let i = 0; i < 100; i++) {
      l.record('10.0.0.1', `Device good-${i}`, 200);
      l.record('10.0.0.1', `Device good-${i}`, 422);
      l.record('10.0.0.1', `Device good-${i}`, 503);
    }
    expect(l.retryAfter('10.0.0.1', 'Device someone-new')).toBeUndefined();
  });

  it('lets a credential answered 2xx lately through its limited address, and refuses the others', () => {
    const l = limiter();
    l.record('10.0.0.1', 'Device bogus-a', 401);
    l.record('10.0.0.1', 'Device good', 200);
    for (let i = 0; i < 2; i++) l.record('10.0.0.1', `Device bogus-${i}`, 401);
    expect(l.retryAfter('10.0.0.1', 'Device good')).toBeUndefined();
    expect(l.retryAfter('10.0.0.1', 'Device bogus-9')).toBe(10);
    expect(l.retryAfter('10.0.0.1', undefined)).toBe(10);
  });

  it('forgets a good credential after knownMs', () => {
    const l = limiter({ knownMs: 5_000, windowMs: 60_000 });
    l.record('10.0.0.1', 'Device bogus-a', 401);
    l.record('10.0.0.1', 'Device good', 200);
    now += 5_000;
    for (let i = 0; i < 2; i++) l.record('10.0.0.1', `Device bogus-${i}`, 401);
    expect(l.retryAfter('10.0.0.1', 'Device good')).toBe(55);
  });

  it('lets a credential answered 2xx before its address began failing through as well', () => {
    const l = limiter();
    l.record('10.0.0.1', 'Device good', 200);
    for (let i = 0; i < 3; i++) l.record('10.0.0.1', `Device bogus-${i}`, 401);
    expect(l.retryAfter('10.0.0.1', 'Device good')).toBeUndefined();
    expect(l.retryAfter('10.0.0.1', 'Device never-seen')).toBe(10);
  });

  it('starts a new window once the old one ended: failures of an earlier window do not add up', () => {
    const l = limiter();
    l.record('10.0.0.1', 'Device a', 401);
    l.record('10.0.0.1', 'Device b', 401);
    now += 10_000;
    l.record('10.0.0.1', 'Device c', 401);
    expect(l.retryAfter('10.0.0.1', 'Device d')).toBeUndefined();
  });

  it('remembers at most maxEntries addresses: a flood of addresses cannot grow its memory', () => {
    const l = limiter({ maxEntries: 10, limit: 1 });
    for (let i = 0; i < 1000; i++) l.record(`10.0.${i >> 8}.${i & 255}`, 'Device x', 401);
    // The newest ten are limited, the oldest were dropped.
    expect(l.retryAfter('10.0.3.231', undefined)).toBe(10);
    expect(l.retryAfter('10.0.0.0', undefined)).toBeUndefined();
    const limited = Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).filter((a) => l.retryAfter(a, undefined) !== undefined);
    expect(limited).toHaveLength(10);
  });
});
