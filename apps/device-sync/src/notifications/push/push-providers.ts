import { ApnsProvider } from './apns.provider';
import { FcmProvider, WnsProvider } from './http-providers';
import { LongPollPush, PushConfig, PushProvider, pushConfig } from './push-provider';

/** Every push channel of the process; the outside ones only when their settings are present. */
export class PushProviders {
  constructor(readonly all: PushProvider[]) {}

  static fromEnv(env: NodeJS.ProcessEnv): PushProviders {
    return PushProviders.from(pushConfig.parse(env));
  }

  static from(c: PushConfig): PushProviders {
    const fixed = (value: string) => () => value;
    return new PushProviders([
      new LongPollPush(),
      new ApnsProvider(c.APNS_ENDPOINT && c.APNS_TOPIC && c.APNS_BEARER_TOKEN ? { url: c.APNS_ENDPOINT, topic: c.APNS_TOPIC, bearer: fixed(c.APNS_BEARER_TOKEN) } : undefined),
      new FcmProvider(c.FCM_PROJECT_ID && c.FCM_ACCESS_TOKEN ? { url: c.FCM_ENDPOINT, projectId: c.FCM_PROJECT_ID, accessToken: fixed(c.FCM_ACCESS_TOKEN) } : undefined),
      new WnsProvider(c.WNS_ACCESS_TOKEN ? { accessToken: fixed(c.WNS_ACCESS_TOKEN) } : undefined),
    ]);
  }

  enabled(): PushProvider[] {
    return this.all.filter((p) => p.enabled);
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((p) => p.close?.()));
  }
}
