import { readFileSync } from 'node:fs';
import { AddressInfo, createServer } from 'node:net';

/** Where ports are picked when the kernel's ephemeral range is known (Linux). */
const LOWEST = 10_000;
/** Ports this process has handed out or found in use: not handed out (again). */
const handedOut = new Set<number>();

/**
 * A local port free a moment ago, for a process a test or the bench starts later. Where it can, it
 * is picked below the kernel's ephemeral range: a port the kernel chooses for port 0 comes from the
 * range it also gives outgoing connections, and one of those (a pool's, a broker client's) could
 * take it before the service that was given it bound it, which then failed to start (EADDRINUSE,
 * seen in a bench run). Picked at random, so that processes picking at once rarely collide.
 */
export async function freePort(): Promise<number> {
  const below = ephemeralLow();
  for (let tries = 0; below > LOWEST && tries < 100; tries++) {
    const port = LOWEST + Math.floor(Math.random() * (below - LOWEST));
    if (handedOut.has(port)) continue;
    // Taken before the check: a call running at once does not pick it too (one in use stays out).
    handedOut.add(port);
    if (await bindable(port)) return port;
  }
  const port = await bound(0);
  handedOut.add(port);
  return port;
}

/** The lowest port of the kernel's ephemeral range, or 0 where it is not known. */
function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 0;
  } catch {
    return 0;
  }
}

async function bindable(port: number): Promise<boolean> {
  return bound(port).then(
    () => true,
    () => false,
  );
}

/** Binds `port` (0: any) on the loopback address, releases it, and says which it was. */
async function bound(port: number): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const { port: taken } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return taken;
}
