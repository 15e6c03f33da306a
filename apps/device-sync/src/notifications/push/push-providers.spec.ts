import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { createServer as createHttp2Server, Http2Server, IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { DeviceNotification } from '@mdm/contracts/device-sync';
import { ApnsProvider } from './apns.provider';
import { FcmProvider, WnsProvider, wnsChannelAllowed } from './http-providers';
import { retryAfterMs } from './push-provider';
import { PushConfigError, PushProviders } from './push-providers';

const notification: DeviceNotification = {
  notificationId: randomUUID(),
  deviceId: randomUUID(),
  tenantId: randomUUID(),
  reason: 'authorityChanged',
  createdAt: '2026-04-01T08:00:00.000Z',
};

/**
 * Records the waits and steps fake time over each (only timers are faked: sockets, the providers'
 * own timeouts and the clock run as they do).
 */
function noWait() {
  jest.useFakeTimers({ doNotFake: ['Date', 'hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval'] });
  const waits: number[] = [];
  const onRetry = (ms: number) => {
    waits.push(ms);
    jest.advanceTimersByTime(ms);
  };
  return { waits, retry: { baseDelayMs: 10, maxAttempts: 4, onRetry } };
}
afterEach(() => jest.useRealTimers());

/** Scripted answers per token: each request takes the next one; the last repeats. */
type Script = Record<string, { status: number; headers?: Record<string, string>; body?: unknown }[]>;
function nextAnswer(script: Script, calls: Map<string, number>, token: string) {
  const n = calls.get(token) ?? 0;
  calls.set(token, n + 1);
  const answers = script[token] ?? [{ status: 200 }];
  return answers[Math.min(n, answers.length - 1)];
}

describe('push providers (against local stand-ins of the providers)', () => {
  describe('APNs over HTTP/2', () => {
    let server: Http2Server;
    let url: string;
    const calls = new Map<string, number>();
    const seen: { headers: IncomingHttpHeaders; body: string }[] = [];
    let sessions = 0;
    const script: Script = {
      ok: [{ status: 200 }],
      throttled: [{ status: 429, headers: { 'retry-after': '1' }, body: { reason: 'TooManyRequests' } }, { status: 200 }],
      unavailable: [{ status: 503, headers: { 'retry-after': '2' }, body: { reason: 'ServiceUnavailable' } }, { status: 200 }],
      down: [{ status: 503, body: { reason: 'ServiceUnavailable' } }],
      gone: [{ status: 410, body: { reason: 'Unregistered', timestamp: 1767225600000 } }],
      malformed: [{ status: 400, body: { reason: 'BadDeviceToken' } }],
      forbidden: [{ status: 403, body: { reason: 'ExpiredProviderToken' } }],
    };

    beforeAll(async () => {
      server = createHttp2Server();
      server.on('session', () => sessions++);
      server.on('stream', (stream, headers) => {
        let body = '';
        stream.on('data', (c) => (body += c));
        stream.on('end', () => {
          seen.push({ headers, body });
          const token = decodeURIComponent(String(headers[':path']).replace('/3/device/', ''));
          const answer = nextAnswer(script, calls, token);
          stream.respond({ ':status': answer.status, 'apns-id': String(headers['apns-id']), ...answer.headers });
          stream.end(answer.body ? JSON.stringify(answer.body) : undefined);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    const opened: ApnsProvider[] = [];
    afterAll(async () => {
      await Promise.all(opened.map((p) => p.close()));
      await new Promise((r) => server.close(r));
    });

    const apns = (retry: object) => {
      const provider = new ApnsProvider({ url, topic: 'com.example.mdm', bearer: () => 'jwt-1', retry });
      opened.push(provider);
      return provider;
    };

    it('POSTs /3/device/<token> with the topic, a background push type, the bearer token and the notification id', async () => {
      const provider = apns(noWait().retry);
      expect(await provider.send('ok', notification)).toEqual({ outcome: 'sent', attempts: 1 });
      const { headers, body } = seen[seen.length - 1];
      expect(headers).toMatchObject({
        ':method': 'POST',
        ':path': '/3/device/ok',
        'apns-topic': 'com.example.mdm',
        'apns-push-type': 'background',
        'apns-id': notification.notificationId,
        authorization: 'bearer jwt-1',
      });
      expect(JSON.parse(body)).toEqual({ aps: { 'content-available': 1 }, notificationId: notification.notificationId, reason: 'authorityChanged' });
    });

    it('429 then 200: retried after at least Retry-After, on the same HTTP/2 session', async () => {
      const { waits, retry } = noWait();
      const provider = apns(retry);
      const before = sessions;
      expect(await provider.send('throttled', notification)).toEqual({ outcome: 'sent', attempts: 2 });
      expect(await provider.send('ok', notification)).toEqual({ outcome: 'sent', attempts: 1 });
      expect(sessions - before).toBe(1);
      expect(waits).toHaveLength(1);
      expect(waits[0]).toBeGreaterThanOrEqual(1000);
      expect(calls.get('throttled')).toBe(2);
    });

    it('503 with Retry-After then 200 is retried; a provider that stays down is reported after the last attempt', async () => {
      const a = noWait();
      expect(await apns(a.retry).send('unavailable', notification)).toEqual({ outcome: 'sent', attempts: 2 });
      expect(a.waits[0]).toBeGreaterThanOrEqual(2000);
      const b = noWait();
      const outcome = await apns(b.retry).send('down', notification);
      expect(outcome).toMatchObject({ outcome: 'failed', attempts: 4, status: 503 });
      // Exponential backoff with jitter: each wait at most the doubled base.
      expect(b.waits.map((w, i) => w <= 10 * 2 ** i && w >= 5 * 2 ** i)).toEqual([true, true, true]);
    });

    it('410 Unregistered (and 400 BadDeviceToken) is not retried and is reported as a dead token', async () => {
      const { waits, retry } = noWait();
      expect(await apns(retry).send('gone', notification)).toEqual({ outcome: 'unregistered', attempts: 1, status: 410 });
      expect(await apns(retry).send('malformed', notification)).toEqual({ outcome: 'unregistered', attempts: 1, status: 400 });
      expect(calls.get('gone')).toBe(1);
      expect(waits).toEqual([]);
    });

    it('another refusal (403) is reported at once, not retried', async () => {
      const outcome = await apns(noWait().retry).send('forbidden', notification);
      expect(outcome).toMatchObject({ outcome: 'failed', attempts: 1, status: 403 });
      expect((outcome as { error: string }).error).toContain('ExpiredProviderToken');
    });

    it('a connection that cannot be made is retried, then reported', async () => {
      const { waits, retry } = noWait();
      const outcome = await new ApnsProvider({ url: 'http://127.0.0.1:1', topic: 't', retry }).send('ok', notification);
      expect(outcome).toMatchObject({ outcome: 'failed', attempts: 4 });
      expect(waits).toHaveLength(3);
    });
  });

  describe('FCM (HTTP v1) and WNS over HTTP', () => {
    let url: string;
    const calls = new Map<string, number>();
    const seen: { path: string; headers: Record<string, unknown>; body: string }[] = [];
    const script: Script = {
      throttled: [{ status: 429, headers: { 'retry-after': '3' } }, { status: 200, body: { name: 'projects/p1/messages/1' } }],
      gone: [{ status: 404, body: { error: { status: 'NOT_FOUND', details: [{ errorCode: 'UNREGISTERED' }] } } }],
      expired: [{ status: 410 }],
      wnsThrottled: [{ status: 406 }, { status: 200 }],
    };
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ path: req.url!, headers: req.headers, body });
        const token = req.url!.startsWith('/wns/') ? req.url!.slice(5) : (JSON.parse(body).message?.token as string);
        const answer = nextAnswer(script, calls, token);
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(answer.body ? JSON.stringify(answer.body) : '');
      });
    });

    beforeAll(async () => {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    });

    const fcm = (retry: object) => new FcmProvider({ url, projectId: 'p1', accessToken: () => 'oauth-1', retry });
    const wns = (retry: object) => new WnsProvider({ accessToken: () => 'wns-1', allowChannel: () => true, retry });

    it('FCM: a data message to the token; 429 then 200 is retried after Retry-After', async () => {
      const { waits, retry } = noWait();
      expect(await fcm(retry).send('throttled', notification)).toEqual({ outcome: 'sent', attempts: 2 });
      expect(waits[0]).toBeGreaterThanOrEqual(3000);
      const last = seen[seen.length - 1];
      expect(last.path).toBe('/v1/projects/p1/messages:send');
      expect(last.headers.authorization).toBe('Bearer oauth-1');
      expect(JSON.parse(last.body)).toEqual({
        message: {
          token: 'throttled',
          data: { notificationId: notification.notificationId, reason: 'authorityChanged', createdAt: notification.createdAt },
          android: { priority: 'HIGH' },
        },
      });
    });

    it('FCM: 404 UNREGISTERED and 410 are not retried and are reported as dead tokens', async () => {
      const { waits, retry } = noWait();
      expect(await fcm(retry).send('gone', notification)).toEqual({ outcome: 'unregistered', attempts: 1, status: 404 });
      expect(await fcm(retry).send('expired', notification)).toEqual({ outcome: 'unregistered', attempts: 1, status: 410 });
      expect(waits).toEqual([]);
    });

    it('WNS: a raw notification to the channel URI; its 406 throttling answer is retried, 410 is a dead channel', async () => {
      const { waits, retry } = noWait();
      expect(await wns(retry).send(`${url}/wns/wnsThrottled`, notification)).toEqual({ outcome: 'sent', attempts: 2 });
      expect(waits).toHaveLength(1);
      expect(seen[seen.length - 1].headers).toMatchObject({ authorization: 'Bearer wns-1', 'x-wns-type': 'wns/raw' });
      expect(await wns(retry).send(`${url}/wns/expired`, notification)).toEqual({ outcome: 'unregistered', attempts: 1, status: 410 });
    });

    it('FCM: a 404 that does not say UNREGISTERED (a wrong project) is a failure, not a dead token', async () => {
      script.wrongProject = [{ status: 404, body: { error: { status: 'NOT_FOUND', message: 'Requested entity was not found.' } } }];
      expect(await fcm(noWait().retry).send('wrongProject', notification)).toMatchObject({ outcome: 'failed', attempts: 1, status: 404 });
    });

    it('WNS: only calls Microsoft notification hosts unless told otherwise', async () => {
      const provider = new WnsProvider({ accessToken: () => 'wns-1', allowChannel: wnsChannelAllowed(['notify.windows.com']) });
      expect(await provider.send(`${url}/wns/x`, notification)).toMatchObject({ outcome: 'failed', attempts: 0 });
      expect(calls.has('x')).toBe(false);
    });
  });

  it('WNS channel URIs: https to the Microsoft hosts; plain http only to a listed host:port', () => {
    const allowed = wnsChannelAllowed(['notify.windows.com', 'http://127.0.0.1:4510']);
    const check = (u: string) => allowed(new URL(u));
    expect(check('https://db5p.notify.windows.com/w/?token=x')).toBe(true);
    expect(check('https://notify.windows.com/x')).toBe(true);
    expect(check('http://db5p.notify.windows.com/x')).toBe(false);
    expect(check('https://evil-notify.windows.com.example/x')).toBe(false);
    expect(check('https://example.com/notify.windows.com')).toBe(false);
    expect(check('http://127.0.0.1:4510/wns/x')).toBe(true);
    expect(check('http://127.0.0.1:5432/x')).toBe(false);
  });

  it('APNs, FCM and WNS are each off until configured; one configured by halves stops the start', async () => {
    expect((await PushProviders.fromEnv({})).all).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'push-config-'));
    const p8 = join(dir, 'AuthKey.p8');
    writeFileSync(p8, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const account = join(dir, 'service-account.json');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    writeFileSync(account, JSON.stringify({ type: 'service_account', project_id: 'p1', client_email: 'push@p1.iam.gserviceaccount.com', private_key: rsa }));
    const all = await PushProviders.fromEnv({
      APNS_TOPIC: 'com.example.mdm',
      APNS_KEY_FILE: p8,
      APNS_KEY_ID: 'ABC123DEFG',
      APNS_TEAM_ID: 'TEAM123456',
      FCM_SERVICE_ACCOUNT_FILE: account,
      WNS_ACCESS_TOKEN: 'wns',
    });
    expect(all.all.map((p) => p.name)).toEqual(['apns', 'fcm', 'wns']);
    await all.close();
    const halves = PushProviders.fromEnv({ APNS_TOPIC: 'com.example.mdm', APNS_KEY_FILE: p8 });
    await expect(halves).rejects.toBeInstanceOf(PushConfigError);
    await expect(halves).rejects.toThrow(
      'device-sync: invalid configuration\n  - APNS_KEY_ID: APNS_TOPIC, APNS_KEY_FILE, APNS_KEY_ID, APNS_TEAM_ID go together: set APNS_KEY_ID, APNS_TEAM_ID too, or none',
    );
    await expect(PushProviders.fromEnv({ FCM_SERVICE_ACCOUNT_FILE: p8 })).rejects.toThrow(/FCM_SERVICE_ACCOUNT_FILE: not a service account key/);
    await expect(
      PushProviders.fromEnv({ APNS_TOPIC: 't', APNS_KEY_FILE: account, APNS_KEY_ID: 'ABC123DEFG', APNS_TEAM_ID: 'TEAM123456' }),
    ).rejects.toThrow(/APNS_KEY_FILE: not an ES256 .p8 key/);
  });

  it('Retry-After is seconds or an HTTP date', () => {
    const now = Date.parse('2026-04-01T08:00:00Z');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Wed, 01 Apr 2026 08:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
});
