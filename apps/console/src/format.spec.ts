import { expiryWarning, legacyExpiry, relative } from './format';

const now = Date.parse('2026-01-10T12:00:00.000Z');
const DAY = 86_400_000;

describe('how the console words times', () => {
  it('says how fresh a view is, to a tenth of a second under ten seconds', () => {
    expect(relative(new Date(now - 300).toISOString(), now)).toBe('0.3 s ago');
    expect(relative(new Date(now - 90_000).toISOString(), now)).toBe('2 min ago');
    expect(relative(new Date(now + 3 * DAY).toISOString(), now)).toBe('in 3 days');
  });
  it('R6: warns of an APNs certificate in its last 30 days, and of an expired one', () => {
    expect(expiryWarning(new Date(now + 31 * DAY).toISOString(), now)).toBeUndefined();
    expect(expiryWarning(new Date(now + 30 * DAY).toISOString(), now)).toBe('expiring');
    expect(expiryWarning(new Date(now - 1).toISOString(), now)).toBe('expired');
  });
  it('R23: legacy profiles expire 7 days after the change', () => {
    expect(legacyExpiry('2026-01-10T12:00:00.000Z')).toBe('2026-01-17T12:00:00.000Z');
  });
});
