import { AddressInfo, createServer } from 'node:net';

/** A local port free a moment ago, for a process a test starts (the system picks it, so tests running at once do not collide). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
