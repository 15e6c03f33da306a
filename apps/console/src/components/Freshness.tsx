import { useEffect, useState } from 'react';
import { Caption1 } from '@fluentui/react-components';
import { relative } from '../format';

/**
 * R29: how fresh the numbers are. The view held every event up to `lagMs` before it answered, so
 * they are as of (answer time − lagMs); `asOf` is when the newest event it applied was recorded.
 */
export function Freshness({ asOf, lagMs, fetchedAt }: { asOf: string | null; lagMs: number; fetchedAt: number }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, []);
  return (
    <Caption1 data-testid="freshness">
      As of {relative(new Date(fetchedAt - lagMs).toISOString(), now)} (lag {lagMs} ms)
      {asOf ? ` · newest event ${relative(asOf, now)}` : ' · no events yet'}
    </Caption1>
  );
}
