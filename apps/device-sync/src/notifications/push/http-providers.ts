import { DeviceNotification } from '@mdm/contracts/device-sync';
import { AnswerRules, Credential, DEFAULT_RETRY, ProviderAnswer, PushOutcome, PushProvider, RetryPolicy, sendWithRetries } from './push-provider';

async function post(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<ProviderAnswer> {
  const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
}

export interface FcmSettings {
  /** https://fcm.googleapis.com */
  url: string;
  projectId: string;
  /** An OAuth 2 access token of a service account with the firebase.messaging scope. */
  accessToken: Credential;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
}

/**
 * FCM HTTP v1: UNREGISTERED (on a 404) is a dead registration token. A 404 without it (a wrong
 * project, say) is a failure, never a reason to forget the device's token.
 */
const fcmRules: AnswerRules = {
  unregistered: (a) => a.status === 410 || ((a.status === 404 || a.status === 400) && /UNREGISTERED/.test(a.body ?? '')),
};

/** Firebase Cloud Messaging (Android), HTTP v1 API: a data message, high priority so the device wakes. */
export class FcmProvider implements PushProvider {
  readonly name = 'fcm' as const;
  constructor(private readonly settings: FcmSettings) {}

  async send(token: string, n: DeviceNotification): Promise<PushOutcome> {
    const s = this.settings;
    const url = `${s.url.replace(/\/$/, '')}/v1/projects/${s.projectId}/messages:send`;
    const body = JSON.stringify({
      message: { token, data: { notificationId: n.notificationId, reason: n.reason, createdAt: n.createdAt }, android: { priority: 'HIGH' } },
    });
    return sendWithRetries(
      { ...DEFAULT_RETRY, ...s.retry },
      async () => post(url, { authorization: `Bearer ${await s.accessToken()}`, 'content-type': 'application/json' }, body, s.timeoutMs ?? 10_000),
      fcmRules,
    );
  }
}

export interface WnsSettings {
  accessToken: Credential;
  /** Channel URIs come from devices: only the hosts this allows are called (wnsChannelAllowed). */
  allowChannel: (url: URL) => boolean;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
}

/** WNS: 404/410 an expired channel; 406 is its throttling answer. */
const wnsRules: AnswerRules = {
  unregistered: (a) => a.status === 410 || a.status === 404,
  retryable: (a) => a.status === 406 || a.status === 429 || a.status >= 500,
};

/**
 * Which channel URIs may be called: https to a listed host or its subdomains (Microsoft's
 * `notify.windows.com` by default), or plain http to exactly a listed `http://host:port` (a local
 * fake). A device naming any other address gets no request with the WNS token in it.
 */
export function wnsChannelAllowed(entries: readonly string[]): (url: URL) => boolean {
  const plain = entries.filter((e) => e.startsWith('http://')).map((e) => new URL(e).host);
  const hosts = entries.filter((e) => !e.includes('://')).map((e) => e.toLowerCase().replace(/^\./, ''));
  return (url) =>
    (url.protocol === 'http:' && plain.includes(url.host)) ||
    (url.protocol === 'https:' && hosts.some((h) => url.hostname === h || url.hostname.endsWith(`.${h}`)));
}

/** Windows Push Notification Services: a raw notification POSTed to the device's channel URI (the token). */
export class WnsProvider implements PushProvider {
  readonly name = 'wns' as const;
  constructor(private readonly settings: WnsSettings) {}

  async send(channelUri: string, n: DeviceNotification): Promise<PushOutcome> {
    const s = this.settings;
    let url: URL;
    try {
      url = new URL(channelUri);
    } catch {
      return { outcome: 'unregistered', attempts: 0, status: 0 };
    }
    if (!s.allowChannel(url)) return { outcome: 'failed', attempts: 0, error: `channel host ${url.host} is not WNS` };
    const body = JSON.stringify({ notificationId: n.notificationId, reason: n.reason, createdAt: n.createdAt });
    return sendWithRetries(
      { ...DEFAULT_RETRY, ...s.retry },
      async () =>
        post(
          url.toString(),
          { authorization: `Bearer ${await s.accessToken()}`, 'x-wns-type': 'wns/raw', 'content-type': 'application/octet-stream' },
          body,
          s.timeoutMs ?? 10_000,
        ),
      wnsRules,
    );
  }
}
