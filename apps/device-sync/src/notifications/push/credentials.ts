import { SignJWT, importPKCS8 } from 'jose';
import { z } from 'zod';
import { Credential } from './push-provider';

/** Apple refuses a provider token older than an hour and one refreshed more often than every 20 minutes. */
const APNS_TOKEN_REFRESH_MS = 50 * 60_000;

export interface ApnsSigningKey {
  /** The .p8 key's PKCS#8 PEM (an ES256 key made in the Apple developer account). */
  privateKeyPem: string;
  /** The key's 10-character id: the JWT's `kid`. */
  keyId: string;
  /** The developer team id: the JWT's `iss`. */
  teamId: string;
}

/**
 * APNs token-based authentication: a provider JWT (ES256; header alg, kid; claims iss, iat) signed
 * with the .p8 key, reused until it is 50 minutes old. A key that does not parse fails at start-up.
 */
export async function apnsProviderToken(key: ApnsSigningKey, now: () => number = Date.now): Promise<Credential> {
  const signingKey = await importPKCS8(key.privateKeyPem, 'ES256');
  let current: { token: Promise<string>; issuedAt: number } | undefined;
  return () => {
    const t = now();
    if (!current || t - current.issuedAt >= APNS_TOKEN_REFRESH_MS) {
      current = {
        issuedAt: t,
        token: new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: key.keyId }).setIssuer(key.teamId).setIssuedAt(Math.floor(t / 1000)).sign(signingKey),
      };
    }
    return current.token;
  };
}

/** The fields of a Google service account key file (JSON) that the OAuth 2 JWT-bearer flow needs. */
export const serviceAccountSchema = z.object({
  project_id: z.string().min(1),
  client_email: z.string().min(1),
  private_key: z.string().min(1),
  token_uri: z.string().url().default('https://oauth2.googleapis.com/token'),
});
export type ServiceAccount = z.infer<typeof serviceAccountSchema>;

const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
/** A token is replaced this long before it expires, so no push goes out with one about to lapse. */
const EARLY_REFRESH_MS = 5 * 60_000;

/**
 * FCM HTTP v1's OAuth 2 bearer: Google's service-account flow (RFC 7523). A JWT (RS256; iss the
 * account, the messaging scope, aud the token URI, an hour's life) is exchanged at `token_uri` for an
 * access token, kept until shortly before it expires. Concurrent callers share one exchange; a
 * failed exchange is not kept, so the next push tries again.
 */
export async function googleAccessToken(account: ServiceAccount, timeoutMs: number, now: () => number = Date.now): Promise<Credential> {
  const signingKey = await importPKCS8(account.private_key, 'RS256');
  let current: { token: Promise<string>; expiresAt: number } | undefined;

  const exchange = async (t: number): Promise<{ token: string; expiresAt: number }> => {
    const iat = Math.floor(t / 1000);
    const assertion = await new SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(account.client_email)
      .setAudience(account.token_uri)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(signingKey);
    const res = await fetch(account.token_uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number };
    if (!res.ok || !body.access_token) throw new Error(`the OAuth token endpoint answered ${res.status}`);
    return { token: body.access_token, expiresAt: t + (body.expires_in ?? 3600) * 1000 };
  };

  return () => {
    const t = now();
    if (!current || t >= current.expiresAt - EARLY_REFRESH_MS) {
      const pending = exchange(t);
      const entry = { token: pending.then((r) => r.token), expiresAt: Number.POSITIVE_INFINITY };
      pending.then(
        (r) => (entry.expiresAt = r.expiresAt),
        () => {
          if (current === entry) current = undefined;
        },
      );
      current = entry;
    }
    return current.token;
  };
}
