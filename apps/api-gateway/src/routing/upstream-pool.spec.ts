import http from 'node:http';
import { AddressInfo } from 'node:net';
import { UpstreamPool } from './upstream-pool';

/** An instance whose /health answers `status` (null: the process is gone). */
async function instance(): Promise<{ url: string; health: { status: number | null }; close(): Promise<void> }> {
  const health = { status: 200 as number | null };
  const server = http.createServer((_req, res) => res.writeHead(health.status ?? 500).end('{}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    health,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('UpstreamPool (the gateway balancing across a service instances)', () => {
  it('takes the instances from a comma-separated setting and balances round-robin', () => {
    const pool = new UpstreamPool('device-sync', 'http://a:1,http://b:2');
    expect(pool.urls).toEqual(['http://a:1', 'http://b:2']);
    expect([pool.pick(), pool.pick(), pool.pick(), pool.pick()]).toEqual(['http://a:1', 'http://b:2', 'http://a:1', 'http://b:2']);
  });

  it('ejects an instance that refused a call, tries it last, and readmits it once its /health answers', async () => {
    const [a, b] = [await instance(), await instance()];
    const pool = new UpstreamPool('device-sync', [a.url, b.url]);
    try {
      pool.unreachable(a.url);
      expect([pool.pick(), pool.pick(), pool.pick()]).toEqual([b.url, b.url, b.url]);
      expect(pool.candidates()).toEqual([b.url, a.url]);
      await pool.checkAll();
      expect(pool.stateOf(a.url)).toBe('up');
      expect(new Set([pool.pick(), pool.pick()])).toEqual(new Set([a.url, b.url]));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('ejects an instance whose health check gets no answer, prefers up over degraded, and still answers when all are ejected', async () => {
    const [a, b] = [await instance(), await instance()];
    const pool = new UpstreamPool('projection', [a.url, b.url]);
    b.health.status = 503;
    await pool.checkAll();
    expect([pool.stateOf(a.url), pool.stateOf(b.url)]).toEqual(['up', 'degraded']);
    expect([pool.pick(), pool.pick()]).toEqual([a.url, a.url]);
    await a.close();
    await pool.checkAll();
    expect(pool.stateOf(a.url)).toBe('down');
    expect([pool.pick(), pool.pick()]).toEqual([b.url, b.url]);
    await b.close();
    await pool.checkAll();
    expect([pool.stateOf(a.url), pool.stateOf(b.url)]).toEqual(['down', 'down']);
    expect(new Set([pool.pick(), pool.pick()])).toEqual(new Set([a.url, b.url]));
  });
});
