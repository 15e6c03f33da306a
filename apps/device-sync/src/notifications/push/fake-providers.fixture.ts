import { KeyObject, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { Http2Server, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream, createServer as createHttp2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, jwtVerify } from 'jose';

/**
 * Local stand-ins of APNs, FCM (with Google's OAuth token endpoint) and WNS that check what each
 * real provider checks and record what they accepted. Tests start them; `stop()` makes a provider
 * unreachable and `start()` brings it back on the same port.
 */

export interface Push {
  token: string;
  headers: Record<string, unknown>;
  body: Record<string, unknown>;
}

/** A request the fake refused, and why (what the provider would answer). */
export interface Refusal {
  status: number;
  reason: string;
}

abstract class Fake<S extends Server | Http2Server> {
  readonly pushes: Push[] = [];
  readonly refusals: Refusal[] = [];
  /** Tokens the provider no longer knows. */
  readonly unregistered = new Set<string>();
  port = 0;
  protected server: S | undefined;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  protected abstract create(): S;

  async start(): Promise<this> {
    const server = this.create();
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Closes the server and every open connection: the provider is down. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise((r) => server.close(r));
    this.dropConnections(server);
    await closed;
  }

  protected abstract dropConnections(server: S): void;

  pushesTo(token: string): Push[] {
    return this.pushes.filter((p) => p.token === token);
  }
}

/** An APNs key pair: the .p8 file the service reads, and the public half the fake verifies with. */
export interface ApnsKey {
  keyFile: string;
  publicKey: KeyObject;
  keyId: string;
  teamId: string;
}

export function apnsKey(): ApnsKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = join(mkdtempSync(join(tmpdir(), 'apns-')), 'AuthKey_ABC123DEFG.p8');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return { keyFile, publicKey, keyId: 'ABC123DEFG', teamId: 'TEAM123456' };
}

/**
 * APNs over HTTP/2 (cleartext here, TLS at Apple): POST /3/device/<hex token> with a provider JWT
 * (ES256, signed by the key whose id is `kid`, `iss` the team, issued within the hour) and the
 * apns-topic the key may push to. Answers as Apple documents: 403 InvalidProviderToken, 400
 * TopicDisallowed / BadDeviceToken, 410 Unregistered, else 200 with the apns-id.
 */
export class FakeApns extends Fake<Http2Server> {
  private readonly sessions = new Set<ServerHttp2Session>();
  /** A slow provider: each answer waits this long. */
  delayMs = 0;

  constructor(
    private readonly key: ApnsKey,
    readonly topic: string,
  ) {
    super();
  }

  protected create(): Http2Server {
    const server = createHttp2Server();
    server.on('session', (s) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
    });
    server.on('stream', (stream, headers) => {
      let body = '';
      stream.on('data', (c) => (body += c));
      stream.on('end', () => void this.answer(stream, headers, body));
    });
    return server;
  }

  protected dropConnections(): void {
    for (const s of this.sessions) s.destroy();
  }

  private async answer(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, body: string): Promise<void> {
    const apnsId = String(headers['apns-id'] ?? randomUUID());
    const reply = (status: number, reason?: string) => {
      if (reason) this.refusals.push({ status, reason });
      if (stream.closed) return;
      stream.respond({ ':status': status, 'apns-id': apnsId, 'content-type': 'application/json' });
      stream.end(reason ? JSON.stringify({ reason, ...(status === 410 && { timestamp: Date.now() }) }) : undefined);
    };
    const path = /^\/3\/device\/([0-9a-fA-F]{64,200})$/.exec(String(headers[':path']));
    if (headers[':method'] !== 'POST') return reply(405, 'MethodNotAllowed');
    if (!path) return reply(400, 'BadDeviceToken');
    const auth = /^bearer (.+)$/.exec(String(headers.authorization ?? ''));
    if (!auth) return reply(403, 'MissingProviderToken');
    try {
      const header = decodeProtectedHeader(auth[1]);
      if (header.kid !== this.key.keyId || header.alg !== 'ES256') return reply(403, 'InvalidProviderToken');
      const { payload } = await jwtVerify(auth[1], this.key.publicKey, { algorithms: ['ES256'], issuer: this.key.teamId, maxTokenAge: '1h' });
      if (typeof payload.iat !== 'number') return reply(403, 'InvalidProviderToken');
    } catch {
      return reply(403, 'InvalidProviderToken');
    }
    if (headers['apns-topic'] !== this.topic) return reply(400, 'TopicDisallowed');
    const token = path[1];
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.unregistered.has(token)) return reply(410, 'Unregistered');
    this.pushes.push({ token, headers: { ...headers }, body: JSON.parse(body) });
    reply(200);
  }
}

abstract class HttpFake extends Fake<Server> {
  protected create(): Server {
    return createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => void this.answer(req, res, body));
    });
  }

  protected dropConnections(server: Server): void {
    server.closeAllConnections();
  }

  protected reply(res: ServerResponse, status: number, body?: unknown, reason?: string): void {
    if (reason) this.refusals.push({ status, reason });
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body === undefined ? '' : JSON.stringify(body));
  }

  protected abstract answer(req: IncomingMessage, res: ServerResponse, body: string): Promise<void>;
}

/** A service account key file whose token_uri is the fake's own OAuth endpoint. */
export interface FcmAccount {
  file: string;
  projectId: string;
  clientEmail: string;
}

/**
 * FCM HTTP v1 with Google's OAuth 2 service-account flow: POST /token exchanges a JWT-bearer
 * assertion (RS256, signed by the account's key, iss the account, aud the token URI, the messaging
 * scope) for an access token; POST /v1/projects/<project>/messages:send takes { message: { token } }
 * with that bearer. An unknown token is 404 with errorCode UNREGISTERED, as FCM answers.
 */
export class FakeFcm extends HttpFake {
  readonly projectId = 'mdm-test';
  readonly clientEmail = 'push@mdm-test.iam.gserviceaccount.com';
  private readonly keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private readonly issued = new Set<string>();
  tokenExchanges = 0;

  /** Writes the service account key file (after start: it names the token endpoint's port). */
  account(): FcmAccount {
    const file = join(mkdtempSync(join(tmpdir(), 'fcm-')), 'service-account.json');
    writeFileSync(
      file,
      JSON.stringify({
        type: 'service_account',
        project_id: this.projectId,
        client_email: this.clientEmail,
        private_key: this.keys.privateKey.export({ type: 'pkcs8', format: 'pem' }),
        token_uri: `${this.url}/token`,
      }),
    );
    return { file, projectId: this.projectId, clientEmail: this.clientEmail };
  }

  protected async answer(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    if (req.method === 'POST' && req.url === '/token') return this.token(res, body);
    if (req.method !== 'POST' || req.url !== `/v1/projects/${this.projectId}/messages:send`) return this.reply(res, 404, { error: { status: 'NOT_FOUND' } }, 'NOT_FOUND');
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || !this.issued.has(bearer)) return this.reply(res, 401, { error: { status: 'UNAUTHENTICATED' } }, 'UNAUTHENTICATED');
    const message = (JSON.parse(body) as { message?: { token?: string } }).message;
    if (!message?.token) return this.reply(res, 400, { error: { status: 'INVALID_ARGUMENT' } }, 'INVALID_ARGUMENT');
    if (this.unregistered.has(message.token)) {
      return this.reply(res, 404, { error: { code: 404, status: 'NOT_FOUND', details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }] } }, 'UNREGISTERED');
    }
    this.pushes.push({ token: message.token, headers: { ...req.headers }, body: JSON.parse(body) });
    this.reply(res, 200, { name: `projects/${this.projectId}/messages/${randomUUID()}` });
  }

  private async token(res: ServerResponse, body: string): Promise<void> {
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return this.reply(res, 400, { error: 'unsupported_grant_type' }, 'unsupported_grant_type');
    try {
      const { payload } = await jwtVerify(form.get('assertion') ?? '', this.keys.publicKey, { issuer: this.clientEmail, audience: `${this.url}/token`, algorithms: ['RS256'] });
      if (payload.scope !== 'https://www.googleapis.com/auth/firebase.messaging') throw new Error('scope');
    } catch {
      return this.reply(res, 400, { error: 'invalid_grant' }, 'invalid_grant');
    }
    const accessToken = `ya29.${randomBytes(16).toString('hex')}`;
    this.issued.add(accessToken);
    this.tokenExchanges++;
    this.reply(res, 200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' });
  }
}

/**
 * WNS: a raw notification POSTed to the device's channel URI (here `<url>/wns/<channel>`) with the
 * service's access token and X-WNS-Type: wns/raw. An expired channel is 410.
 */
export class FakeWns extends HttpFake {
  constructor(readonly accessToken: string) {
    super();
  }

  channel(name: string): string {
    return `${this.url}/wns/${name}`;
  }

  protected async answer(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const channel = /^\/wns\/([\w-]+)$/.exec(req.url ?? '')?.[1];
    if (req.method !== 'POST' || !channel) return this.reply(res, 404, undefined, 'NotFound');
    if (req.headers.authorization !== `Bearer ${this.accessToken}`) return this.reply(res, 401, undefined, 'Unauthorized');
    if (req.headers['x-wns-type'] !== 'wns/raw') return this.reply(res, 400, undefined, 'BadType');
    const uri = this.channel(channel);
    if (this.unregistered.has(uri)) return this.reply(res, 410, undefined, 'ChannelExpired');
    this.pushes.push({ token: uri, headers: { ...req.headers }, body: JSON.parse(body) });
    this.reply(res, 200);
  }
}
