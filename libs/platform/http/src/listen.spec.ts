import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Get, INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { listenOnPort } from './listen';
import { HttpDrain } from './platform.module';

@Controller()
class PingController {
  @Get('ping')
  ping() {
    return { pong: true };
  }
}

@Module({ controllers: [PingController] })
class PingModule {}

/** One call on a connection of its own (no agent: every call connects anew). */
const ping = (port: number) =>
  new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/ping', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });

describe('a service listens on several sockets of one port (SO_REUSEPORT)', () => {
  let app: INestApplication;
  beforeEach(async () => {
    app = await NestFactory.create(PingModule, { logger: false });
  });
  afterEach(() => app.close().catch(() => undefined));

  const linux = process.platform === 'linux' ? it : it.skip;

  linux('each socket serves the same app on the one port, with the first server\'s timeouts; draining closes them all', async () => {
    (app.getHttpServer() as import('node:http').Server).keepAliveTimeout = 65_000;
    const { servers, url } = await listenOnPort(app, 0, '127.0.0.1', 4);
    const ports = servers.map((s) => (s.address() as AddressInfo).port);
    expect(servers).toHaveLength(4);
    expect(new Set(ports).size).toBe(1);
    expect(url).toBe(`http://127.0.0.1:${ports[0]}`);
    expect(servers.map((s) => s.keepAliveTimeout)).toEqual([65_000, 65_000, 65_000, 65_000]);
    // Many new connections: the kernel spreads them over the sockets, and every one is answered.
    const accepted = servers.map(() => 0);
    servers.forEach((s, i) => s.on('connection', () => accepted[i]++));
    expect(await Promise.all(Array.from({ length: 40 }, () => ping(ports[0])))).toEqual(Array(40).fill(200));
    expect(accepted.reduce((a, b) => a + b)).toBe(40);
    expect(accepted.filter((n) => n > 0).length).toBeGreaterThan(1);

    new HttpDrain().begin(servers);
    await new Promise((r) => setTimeout(r, 100));
    expect(servers.map((s) => s.listening)).toEqual([false, false, false, false]);
    await expect(ping(ports[0])).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  linux('a port another process (or service) listens on is refused at start, as with one socket', async () => {
    const { servers } = await listenOnPort(app, 0, '127.0.0.1', 4);
    const taken = (servers[0].address() as AddressInfo).port;
    const second = await NestFactory.create(PingModule, { logger: false });
    try {
      await expect(listenOnPort(second, taken, '127.0.0.1', 4)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await second.close().catch(() => undefined);
      servers.forEach((s) => s.close());
    }
  });

  it('one socket is Nest\'s server alone', async () => {
    const { servers } = await listenOnPort(app, 0, '127.0.0.1', 1);
    expect(servers).toEqual([app.getHttpServer()]);
    expect(await ping((servers[0].address() as AddressInfo).port)).toBe(200);
  });
});
