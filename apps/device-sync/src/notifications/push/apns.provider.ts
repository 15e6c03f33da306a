import { ClientHttp2Session, SecureClientSessionOptions, connect, constants } from 'node:http2';
import { DeviceNotification } from '@mdm/contracts/device-sync';
import { AnswerRules, Credential, DEFAULT_RETRY, ProviderAnswer, PushOutcome, PushProvider, RetryPolicy, sendWithRetries } from './push-provider';

export interface ApnsSettings {
  /** https://api.push.apple.com (https://api.sandbox.push.apple.com for development). */
  url: string;
  topic: string;
  /** Token-based authentication (a provider JWT); certificate-based goes in `tls` (cert, key). */
  bearer?: Credential;
  tls?: SecureClientSessionOptions;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
}

/** 410 Unregistered; 400 BadDeviceToken is as dead a token. */
const rules: AnswerRules = {
  unregistered: (a) => a.status === 410 || (a.status === 400 && /BadDeviceToken|DeviceTokenNotForTopic/.test(a.body ?? '')),
};

/** Apple Push Notification service over HTTP/2: one session kept open, one stream per push. */
export class ApnsProvider implements PushProvider {
  readonly name = 'apns' as const;
  private session: ClientHttp2Session | undefined;

  constructor(private readonly settings: ApnsSettings) {}

  async send(token: string, n: DeviceNotification): Promise<PushOutcome> {
    const body = JSON.stringify({ aps: { 'content-available': 1 }, notificationId: n.notificationId, reason: n.reason });
    return sendWithRetries({ ...DEFAULT_RETRY, ...this.settings.retry }, () => this.post(token, n.notificationId, body), rules);
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session && !session.closed) await new Promise<void>((r) => session.close(() => r()));
  }

  private async post(token: string, apnsId: string, body: string): Promise<ProviderAnswer> {
    const { topic, bearer, timeoutMs = 10_000 } = this.settings;
    const headers = {
      ':method': 'POST',
      ':path': `/3/device/${encodeURIComponent(token)}`,
      'apns-topic': topic,
      'apns-push-type': 'background',
      'apns-priority': '5',
      'apns-id': apnsId,
      'content-type': 'application/json',
      ...(bearer && { authorization: `bearer ${await bearer()}` }),
    };
    const session = this.connect();
    return new Promise((resolve, reject) => {
      const req = session.request(headers);
      const chunks: Buffer[] = [];
      let status = 0;
      let retryAfter: string | undefined;
      req.setTimeout(timeoutMs, () => req.close(constants.NGHTTP2_CANCEL));
      req.on('response', (h) => {
        status = Number(h[':status']);
        retryAfter = h['retry-after'] as string | undefined;
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => (status ? resolve({ status, retryAfter, body: Buffer.concat(chunks).toString() }) : reject(new Error('APNs stream ended without an answer'))));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** The session is reused until it closes or fails; a GOAWAY makes the next push open a new one. */
  private connect(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = connect(this.settings.url, this.settings.tls);
    const forget = () => {
      if (this.session === session) this.session = undefined;
    };
    session.on('error', forget);
    session.on('goaway', forget);
    session.on('close', forget);
    session.unref();
    this.session = session;
    return session;
  }
}
