import http from 'node:http';
import { AddressInfo } from 'node:net';
import { relayCall } from './relay-call';

describe('relayCall (the gateway pass-through to a service)', () => {
  let server: http.Server;
  let url: string;
  const held: http.ServerResponse[] = [];
  const seen: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        if (req.url === '/hold') held.push(res);
        else res.writeHead(422, { 'content-type': 'application/json', 'retry-after': '3' }).end('{"code":"X"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends the bytes, method, path and headers as given, and hands back the status, headers and bytes as answered', async () => {
    const body = Buffer.from('{"a": 1}');
    const answer = await relayCall(new URL(`${url}/device/v1/check-in?x=1`), { method: 'POST', headers: { authorization: 'Device d', 'content-type': 'application/json' }, body });
    expect(answer.status).toBe(422);
    expect(answer.headers['retry-after']).toBe('3');
    expect(answer.body.toString('utf8')).toBe('{"code":"X"}');
    const call = seen.at(-1)!;
    expect(call).toMatchObject({ method: 'POST', url: '/device/v1/check-in?x=1', body: '{"a": 1}' });
    expect(call.headers).toMatchObject({ authorization: 'Device d', 'content-type': 'application/json', 'content-length': '8' });
  });

  it('gives up after its timeout, and stops at once when the caller goes away', async () => {
    await expect(relayCall(new URL(`${url}/hold`), { method: 'GET', headers: {}, body: Buffer.alloc(0), timeoutMs: 100 })).rejects.toThrow('no answer within 100 ms');
    const abort = new AbortController();
    const call = relayCall(new URL(`${url}/hold`), { method: 'GET', headers: {}, body: Buffer.alloc(0), signal: abort.signal });
    while (held.length < 2) await new Promise((r) => setTimeout(r, 5));
    abort.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    held.splice(0).forEach((res) => res.destroy());
  });

  it('rejects with the connection error code when nothing listens (the pool then tries another instance)', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const dead = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    await expect(relayCall(new URL(`${dead}/x`), { method: 'GET', headers: {}, body: Buffer.alloc(0) })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
