import http from 'node:http';
import { currentContext } from '@mdm/platform/logging';
import { CALL_CONTEXT_HEADER, CallSigner, bodyHash } from './call-context';

export * from './call-context';

/**
 * Calls between our own services (read-your-writes, certificate renewal, the views' freshness):
 * node:http over kept-alive connections, a few per batch of device calls. Node's fetch costs more
 * CPU per call (web streams, its own parser). The gateway relays every call it passes through with
 * undici instead (its relay-call.ts): half node:http's CPU per call, but bundled into a service it
 * adds a few MB of resident memory, which only the gateway's call rate pays back (README,
 * "Performance notes").
 */
// Idle connections close after 60 s, before our services close theirs (65 s, see startService).
const agent = new http.Agent({ keepAlive: true, timeout: 60_000 });

export interface ServiceCall {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /** Default 90 s, as the gateway's relay: longer than any call between services waits (a device's 60-s long poll). */
  timeoutMs?: number;
  /**
   * The calling service's signer: the call carries its signed context (services accept no call
   * without one), on behalf of `actor` (default `service:<the signer's service>`).
   */
  signer?: CallSigner;
  actor?: string;
}

/** The signed-context header of a call to `url`, bound to its method, request target and body. */
export function signedContextHeader(
  signer: CallSigner,
  method: string,
  url: URL,
  context: { actor?: string; tenantId?: string; role?: string } = {},
  body?: Buffer | string,
): Record<string, string> {
  const correlationId = currentContext().correlationId ?? '';
  const token = signer.sign({
    actor: context.actor ?? `service:${signer.service}`,
    ...(context.tenantId && { tenantId: context.tenantId }),
    ...(context.role && { role: context.role }),
    correlationId,
    method,
    path: `${url.pathname}${url.search}`,
    bodyHash: bodyHash(body),
  });
  return { [CALL_CONTEXT_HEADER]: token, ...(correlationId && { 'x-correlation-id': correlationId }) };
}

export interface ServiceAnswer {
  status: number;
  /** A 2xx status. */
  ok: boolean;
  /** The answer's JSON, undefined when it had no body. */
  body: unknown;
}

/**
 * The instances a service URL names: a setting may list several (`http://a:1,http://b:2`), and a
 * call's URL is that setting with a path appended (`http://a:1,http://b:2/internal/x`), so the
 * path of the last one goes to each. Only origins are listed.
 */
export function instanceUrls(url: string): string[] {
  const parts = url.split(',').map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) return [];
  const last = new URL(parts[parts.length - 1]);
  const suffix = `${last.pathname === '/' && !url.endsWith('/') ? '' : last.pathname}${last.search}`;
  return parts.map((p) => `${new URL(p).origin}${suffix}`);
}

/** Errors of a connection that was never made: the call reached no one and may go to another instance. */
// UND_ERR_CONNECT_TIMEOUT: undici's (the gateway's relay) for a connection not made in time.
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);

export function notConnected(err: unknown): boolean {
  return NOT_CONNECTED.has((err as NodeJS.ErrnoException)?.code ?? '');
}

let nextInstance = 0;

/**
 * Calls a service, one of its instances when its URL lists several: each call starts at the next
 * one in turn, and one that refuses the connection (a killed process) passes the call to the next.
 */
export async function callService(url: URL | string, call: ServiceCall = {}): Promise<ServiceAnswer> {
  const instances = typeof url === 'string' && url.includes(',') ? instanceUrls(url) : [url];
  const start = nextInstance++;
  for (let i = 0; ; i++) {
    try {
      return await callInstance(instances[(start + i) % instances.length], call);
    } catch (err) {
      if (i + 1 >= instances.length || !notConnected(err)) throw err;
    }
  }
}

function callInstance(url: URL | string, call: ServiceCall): Promise<ServiceAnswer> {
  const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
  const method = call.method ?? 'GET';
  const headers: Record<string, string | number> = {
    ...(call.signer && signedContextHeader(call.signer, method, new URL(url), { actor: call.actor }, payload)),
    ...call.headers,
  };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  const timeoutMs = call.timeoutMs ?? 90_000;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          const status = res.statusCode ?? 0;
          resolve({ status, ok: status >= 200 && status < 300, body: text ? JSON.parse(text) : undefined });
        } catch (err) {
          reject(new Error(`${url}: answered ${res.statusCode} with a body that is not JSON (${(err as Error).message})`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
