import { KeyObject, createHash, createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';

/** The header a signed call context travels in, from the gateway (or a service) to a service. */
export const CALL_CONTEXT_HEADER = 'x-mdm-context';

/** A context is good for this long after it was signed: long enough to cross the network, too short to keep. */
export const CALL_CONTEXT_TTL_MS = 30_000;

/**
 * Who makes a call, as the signer vouches for it. `service` is the signing service (the gateway
 * for every call it relays), `actor` on whose behalf (`token:<id>`, `operator`, `device`,
 * `service:<name>`), and the call it was signed for: a context is bound to one method, path
 * (with its query) and body, and cannot be replayed on another call.
 */
export interface CallContext {
  service: string;
  actor: string;
  tenantId?: string;
  role?: string;
  correlationId: string;
  method: string;
  path: string;
  /** SHA-256 of the body's bytes (base64url; of nothing when there is none): see `bodyHash`. */
  bodyHash: string;
  /** Epoch milliseconds of the wall clock (never the shared test clock). */
  expiresAt: number;
}

export type CallContextCheck = { ok: true; context: CallContext } | { ok: false; reason: string };

const VERSION = 'v1';

/** What a context's `bodyHash` holds for these bytes; the receiving service compares it with the body it reads. */
export const bodyHash = (body: Buffer | string = ''): string => createHash('sha256').update(body).digest('base64url');

/**
 * Signs and checks call contexts with HMAC-SHA256 over one key every service of a deployment
 * shares (MDM_GATEWAY_SIGNING_KEY). Not a JWT: the context never leaves the deployment and is
 * checked on every call, so a synchronous HMAC of node:crypto over a compact JSON payload is all
 * it takes (jose's verification is asynchronous, over WebCrypto, for algorithms we never need).
 */
export class CallSigner {
  /** A KeyObject, made once: an HMAC from raw key bytes sets the key up again on every call, several times the cost. */
  private readonly key: KeyObject;

  constructor(
    key: string,
    /** The signing service's name: `service` in the contexts it signs. */
    readonly service: string,
    private readonly ttlMs = CALL_CONTEXT_TTL_MS,
  ) {
    this.key = createSecretKey(Buffer.from(key, 'utf8'));
  }

  sign(context: Omit<CallContext, 'service' | 'expiresAt'>, now = Date.now()): string {
    const full: CallContext = { service: this.service, ...context, expiresAt: now + this.ttlMs };
    const payload = Buffer.from(JSON.stringify(full)).toString('base64url');
    return `${VERSION}.${payload}.${this.mac(payload)}`;
  }

  /**
   * The signed context of a call to `method` `path` (the request target: path and query), or why
   * there is none. The body arrives later: whoever reads it compares `bodyHash` with it.
   */
  verify(token: string | undefined, method: string, path: string, now = Date.now()): CallContextCheck {
    if (!token) return { ok: false, reason: `no signed call context (${CALL_CONTEXT_HEADER})` };
    const [version, payload, mac] = token.split('.');
    if (version !== VERSION || !payload || !mac) return { ok: false, reason: 'malformed call context' };
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'bad signature' };
    let context: CallContext;
    try {
      context = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as CallContext;
    } catch {
      return { ok: false, reason: 'malformed call context' };
    }
    if (!(context.expiresAt > now)) return { ok: false, reason: 'expired call context' };
    if (context.method !== method || context.path !== path) return { ok: false, reason: 'call context signed for another call' };
    return { ok: true, context };
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(`${VERSION}.${payload}`).digest('base64url');
  }
}
