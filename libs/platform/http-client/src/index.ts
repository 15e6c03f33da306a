import type { IncomingHttpHeaders } from 'node:http';
import { Agent, Dispatcher, request } from 'undici';
import { currentContext } from '@mdm/platform/logging';
import { CALL_CONTEXT_HEADER, CallSigner, bodyHash } from './call-context';

export * from './call-context';

/**
 * Calls between our own services (the gateway's forwarding, read-your-writes, certificate renewal):
 * undici's request API over kept-alive connections. node:http's client costs about twice its CPU per
 * call and Node's fetch more still (web streams; README, "Performance notes"), and these calls sit
 * on the path of every command and device call.
 */
// Idle connections close after 60 s, before our services close theirs (65 s, see startService).
// No cap on connections per service: every device's long poll through the gateway holds one.
const agent = new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000, connections: null });

/** One call on the shared connections, its answer's bytes read whole; rejects only when there is no answer. */
async function send(
  url: URL | string,
  call: { method: string; headers: Record<string, string>; body?: Buffer | string; timeoutMs: number; signal?: AbortSignal },
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  let answer: Dispatcher.ResponseData;
  try {
    answer = await request(url, {
      dispatcher: agent,
      method: call.method as Dispatcher.HttpMethod,
      headers: call.headers,
      body: call.body,
      signal: call.signal,
      headersTimeout: call.timeoutMs,
      bodyTimeout: call.timeoutMs,
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') throw new Error(`${url}: no answer within ${call.timeoutMs} ms`, { cause: err });
    throw err;
  }
  const body = Buffer.from(await answer.body.arrayBuffer());
  return { status: answer.statusCode, headers: answer.headers as IncomingHttpHeaders, body };
}

export interface ServiceCall {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /** Default 90 s: longer than the longest call we make, a device's 60-s long poll through the gateway. */
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
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

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

async function callInstance(url: URL | string, call: ServiceCall): Promise<ServiceAnswer> {
  const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
  const method = call.method ?? 'GET';
  const headers: Record<string, string> = {
    ...(call.signer && signedContextHeader(call.signer, method, new URL(url), { actor: call.actor }, payload)),
    ...call.headers,
  };
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const { status, body } = await send(url, { method, headers, body: payload, timeoutMs: call.timeoutMs ?? 90_000 });
  const text = body.toString('utf8');
  try {
    return { status, ok: status >= 200 && status < 300, body: text ? JSON.parse(text) : undefined };
  } catch (err) {
    throw new Error(`${url}: answered ${status} with a body that is not JSON (${(err as Error).message})`);
  }
}

export interface RelayedCall {
  method: string;
  /** All that is sent of the caller's headers. */
  headers: Record<string, string>;
  body: Buffer;
  timeoutMs?: number;
  /** Aborts the call: the caller went away (a device dropping its long poll). */
  signal?: AbortSignal;
}

/**
 * Sends a call's bytes to another service as they are and hands back its answer's, unparsed: the
 * gateway's pass-through for calls the service behind validates itself. Rejects only when the
 * service cannot be reached or does not answer in time.
 */
export function relayCall(url: URL | string, call: RelayedCall): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return send(url, { ...call, timeoutMs: call.timeoutMs ?? 90_000 });
}
