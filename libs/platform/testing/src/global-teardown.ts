import { CONTAINERS_KEY, RUN_LOCK_KEY } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  await ((globalThis as Record<string, unknown>)[RUN_LOCK_KEY] as { end(): Promise<void> } | undefined)?.end();
  const started = ((globalThis as Record<string, unknown>)[CONTAINERS_KEY] ?? []) as { stop(): Promise<unknown> }[];
  await Promise.all(started.map((c) => c.stop()));
}
