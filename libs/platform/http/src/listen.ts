import { RequestListener, Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';

/**
 * Starts Nest's HTTP server and `sockets - 1` more over the same request handler, all on one port
 * (the first one's when `port` is 0) with SO_REUSEPORT, each with the first one's timeouts; on
 * other platforms than Linux, Nest's server alone.
 *
 * Why several: libuv accepts one connection per turn of the event loop (libuv/libuv#3696, libuv
 * 1.45 on). A busy service's turns are long, so a burst of new connections (a fleet waking, a
 * gateway opening connections for a surge of calls, a client guessing credentials) waited in the
 * kernel's accept queue for as many turns as there were connections, far longer than the calls
 * took. The kernel spreads a port's new connections over its SO_REUSEPORT sockets, and each
 * socket accepts one per turn.
 */
export async function listenOnPort(app: INestApplication, port: number, host: string, sockets: number): Promise<{ servers: Server[]; url: string }> {
  await app.init();
  const first = app.getHttpServer() as Server;
  // Elsewhere Node refuses the option, or the kernel does not spread the connections.
  const reusePort = sockets > 1 && process.platform === 'linux';
  // SO_REUSEPORT would also let a second process of the same user share a given port unnoticed
  // (a stack started twice): a plain bind first fails on a taken port, as one socket did.
  if (reusePort && port !== 0) {
    const probe = createServer();
    await listen(probe, { port, host, reusePort: false });
    await new Promise((closed) => probe.close(closed));
  }
  await listen(first, { port, host, reusePort });
  const { port: bound } = first.address() as AddressInfo;
  const servers = [first];
  if (reusePort) {
    const handler: RequestListener = app.getHttpAdapter().getInstance();
    for (let i = 1; i < sockets; i++) {
      const server = createServer(handler);
      server.keepAliveTimeout = first.keepAliveTimeout;
      server.headersTimeout = first.headersTimeout;
      server.requestTimeout = first.requestTimeout;
      await listen(server, { port: bound, host, reusePort });
      servers.push(server);
    }
  }
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return { servers, url: `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${bound}` };
}

function listen(server: Server, options: { port: number; host: string; reusePort: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}
