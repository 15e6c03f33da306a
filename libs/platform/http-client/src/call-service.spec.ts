import http from 'node:http';
import { AddressInfo } from 'node:net';
import { callService, instanceUrls } from './index';

describe('callService', () => {
  let server: http.Server;
  let url: string;
  const held: http.ServerResponse[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/hold') held.push(res);
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, url: req.url }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('R16: holds as many calls open at once as there are callers, as 10,000 long polls through the gateway need', async () => {
    const calls = Array.from({ length: 600 }, () => callService(`${url}/hold`));
    calls.forEach((call) => call.catch(() => undefined)); // a failed run still ends cleanly
    const deadline = Date.now() + 3000;
    while (held.length < 600 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(held).toHaveLength(600);
    for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    const answers = await Promise.all(calls);
    expect(answers.every((a) => a.status === 200 && a.ok && (a.body as { ok: boolean }).ok)).toBe(true);
  });

  it('answers with the status and JSON body, and gives up after its timeout', async () => {
    expect(await callService(`${url}/x`, { method: 'POST', body: { a: 1 } })).toEqual({ status: 200, ok: true, body: { method: 'POST', url: '/x' } });
    await expect(callService(`${url}/hold`, { timeoutMs: 100 })).rejects.toThrow('no answer within 100 ms');
    held.splice(0).forEach((res) => res.destroy());
  });
});

describe('callService across a service instances', () => {
  it('spreads a path over every instance a setting lists', () => {
    expect(instanceUrls('http://a:1,http://b:2/internal/x?y=1')).toEqual(['http://a:1/internal/x?y=1', 'http://b:2/internal/x?y=1']);
    expect(instanceUrls('http://a:1')).toEqual(['http://a:1']);
  });

  it('passes a call an instance refuses (a killed process) to the next one', async () => {
    const server = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const live = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    try {
      const answers = await Promise.all([1, 2, 3, 4].map(() => callService(`${dead},${live}/internal/x`)));
      expect(answers.map((a) => a.body)).toEqual([1, 2, 3, 4].map(() => ({ url: '/internal/x' })));
      await expect(callService(`${dead}/internal/x`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
