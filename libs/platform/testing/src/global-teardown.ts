import { CONTAINERS_KEY } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const started = ((globalThis as Record<string, unknown>)[CONTAINERS_KEY] ?? []) as { stop(): Promise<unknown> }[];
  await Promise.all(started.map((c) => c.stop()));
}
