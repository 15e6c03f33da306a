import { readFile } from 'node:fs/promises';
import { PushProviderName } from '@mdm/contracts/authority';
import { ConfigError } from '@mdm/platform/config';
import { ApnsProvider } from './apns.provider';
import { apnsProviderToken, googleAccessToken, serviceAccountSchema } from './credentials';
import { FcmProvider, WnsProvider, wnsChannelAllowed } from './http-providers';
import { PushConfig, PushProvider, RetryPolicy, pushConfig } from './push-provider';

/**
 * A push setting the service cannot use stops its start like any bad variable; a provider configured
 * by halves would otherwise silently never push.
 */
export class PushConfigError extends ConfigError {
  constructor(variable: string, message: string) {
    super('device-sync', [{ path: [variable], message }]);
  }
}

function complete(settings: Record<string, unknown>): boolean {
  const given = Object.entries(settings).filter(([, v]) => v !== undefined);
  if (given.length === 0) return false;
  const missing = Object.keys(settings).filter((k) => settings[k] === undefined);
  if (missing.length > 0) throw new PushConfigError(missing[0], `${Object.keys(settings).join(', ')} go together: set ${missing.join(', ')} too, or none`);
  return true;
}

async function readKeyFile(variable: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new PushConfigError(variable, `cannot read ${path} (${(err as Error).message})`);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The outside push providers of the process (R16), each only when its settings are present. The
 * built-in long poll needs none of them: it is served from the notifications table.
 */
export class PushProviders {
  private constructor(readonly all: PushProvider[]) {}

  static async fromEnv(env: NodeJS.ProcessEnv): Promise<PushProviders> {
    return PushProviders.from(pushConfig.parse(env));
  }

  static async from(c: PushConfig): Promise<PushProviders> {
    const retry: Partial<RetryPolicy> = { maxAttempts: c.PUSH_MAX_ATTEMPTS };
    const timeoutMs = c.PUSH_TIMEOUT_MS;
    const providers: PushProvider[] = [];
    if (complete({ APNS_TOPIC: c.APNS_TOPIC, APNS_KEY_FILE: c.APNS_KEY_FILE, APNS_KEY_ID: c.APNS_KEY_ID, APNS_TEAM_ID: c.APNS_TEAM_ID })) {
      const privateKeyPem = await readKeyFile('APNS_KEY_FILE', c.APNS_KEY_FILE!);
      const bearer = await apnsProviderToken({ privateKeyPem, keyId: c.APNS_KEY_ID!, teamId: c.APNS_TEAM_ID! }).catch((err) => {
        throw new PushConfigError('APNS_KEY_FILE', `not an ES256 .p8 key (${(err as Error).message})`);
      });
      providers.push(new ApnsProvider({ url: c.APNS_ENDPOINT, topic: c.APNS_TOPIC!, bearer, retry, timeoutMs }));
    }
    if (c.FCM_SERVICE_ACCOUNT_FILE) {
      const parsed = serviceAccountSchema.safeParse(parseJson(await readKeyFile('FCM_SERVICE_ACCOUNT_FILE', c.FCM_SERVICE_ACCOUNT_FILE)));
      if (!parsed.success) {
        throw new PushConfigError('FCM_SERVICE_ACCOUNT_FILE', `not a service account key (${parsed.error.issues.map((i) => i.path.join('.')).join(', ')})`);
      }
      const accessToken = await googleAccessToken(parsed.data, timeoutMs);
      providers.push(new FcmProvider({ url: c.FCM_ENDPOINT, projectId: c.FCM_PROJECT_ID ?? parsed.data.project_id, accessToken, retry, timeoutMs }));
    }
    if (c.WNS_ACCESS_TOKEN) {
      const token = c.WNS_ACCESS_TOKEN;
      providers.push(new WnsProvider({ accessToken: () => token, allowChannel: wnsChannelAllowed(c.WNS_CHANNEL_HOSTS), retry, timeoutMs }));
    }
    return new PushProviders(providers);
  }

  get(name: PushProviderName): PushProvider | undefined {
    return this.all.find((p) => p.name === name);
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((p) => p.close?.()));
  }
}
