/** "3 s ago", "5 min ago", "in 2 h": a time relative to now, for freshness and countdowns. */
export function relative(iso: string, now = Date.now()): string {
  const ms = new Date(iso).getTime() - now;
  const abs = Math.abs(ms);
  const text =
    abs < 10_000 ? `${(abs / 1000).toFixed(1)} s` : abs < 60_000 ? `${Math.round(abs / 1000)} s` : abs < 3_600_000 ? `${Math.round(abs / 60_000)} min` : abs < 172_800_000 ? `${Math.round(abs / 3_600_000)} h` : `${Math.round(abs / 86_400_000)} days`;
  return ms < 0 ? `${text} ago` : `in ${text}`;
}

export const dateTime = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');

const DAY = 86_400_000;

/** R6: a certificate in its last 30 days (or past them) needs a new upload. */
export function expiryWarning(notAfter: string, now = Date.now()): 'expired' | 'expiring' | undefined {
  const left = new Date(notAfter).getTime() - now;
  if (left <= 0) return 'expired';
  return left <= 30 * DAY ? 'expiring' : undefined;
}

/** R23: the old authority's profiles expire 7 days after the change on a device that has not checked in. */
export const legacyExpiry = (changedAt: string) => new Date(new Date(changedAt).getTime() + 7 * DAY).toISOString();

/** A UUID as the API's ids are. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
