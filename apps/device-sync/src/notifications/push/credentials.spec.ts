import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { apnsProviderToken, googleAccessToken, serviceAccountSchema } from './credentials';

const MINUTE = 60_000;

describe('push provider credentials', () => {
  it('APNs: an ES256 provider JWT (kid, iss, iat) that verifies with the key, reused for 50 minutes, then renewed', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let now = Date.parse('2026-04-01T08:00:00Z');
    const token = await apnsProviderToken(
      { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, keyId: 'ABC123DEFG', teamId: 'TEAM123456' },
      () => now,
    );
    const first = await token();
    expect(decodeProtectedHeader(first)).toEqual({ alg: 'ES256', kid: 'ABC123DEFG' });
    const { payload } = await jwtVerify(first, publicKey, { issuer: 'TEAM123456', currentDate: new Date(now) });
    expect(payload).toEqual({ iss: 'TEAM123456', iat: now / 1000 });
    now += 49 * MINUTE;
    expect(await token()).toBe(first);
    now += 1 * MINUTE;
    const second = await token();
    expect(second).not.toBe(first);
    expect((await jwtVerify(second, publicKey, { currentDate: new Date(now) })).payload.iat).toBe(now / 1000);
  });

  describe('FCM: OAuth 2 access token from a service account', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const answers: { status: number; body: object }[] = [];
    const assertions: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        assertions.push(form.get('assertion')!);
        const answer = answers.shift() ?? { status: 200, body: { access_token: `token-${assertions.length}`, expires_in: 3600 } };
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body));
      });
    });
    let tokenUri: string;
    beforeAll(async () => {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      tokenUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    });
    afterAll(() => new Promise((r) => server.close(r)));

    const account = () =>
      serviceAccountSchema.parse({
        project_id: 'p1',
        client_email: 'push@p1.iam.gserviceaccount.com',
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
        token_uri: tokenUri,
      });

    it('exchanges a signed JWT-bearer assertion once for concurrent callers, keeps the token until 5 minutes before it expires', async () => {
      assertions.length = 0;
      let now = Date.parse('2026-04-01T08:00:00Z');
      const token = await googleAccessToken(account(), 5000, () => now);
      expect(await Promise.all([token(), token(), token()])).toEqual(['token-1', 'token-1', 'token-1']);
      expect(assertions).toHaveLength(1);
      const { payload } = await jwtVerify(assertions[0], publicKey, { currentDate: new Date(now) });
      expect(payload).toEqual({
        iss: 'push@p1.iam.gserviceaccount.com',
        aud: tokenUri,
        scope: 'https://www.googleapis.com/auth/firebase.messaging',
        iat: now / 1000,
        exp: now / 1000 + 3600,
      });
      now += 54 * MINUTE;
      expect(await token()).toBe('token-1');
      now += 1 * MINUTE;
      expect(await token()).toBe('token-2');
    });

    it('a refused exchange fails that call and is tried again by the next', async () => {
      assertions.length = 0;
      answers.push({ status: 400, body: { error: 'invalid_grant' } });
      const token = await googleAccessToken(account(), 5000);
      await expect(token()).rejects.toThrow('the OAuth token endpoint answered 400');
      expect(await token()).toBe('token-2');
    });
  });
});
