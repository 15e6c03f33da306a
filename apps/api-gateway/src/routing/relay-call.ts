import type { IncomingHttpHeaders } from 'node:http';
import { Agent, Dispatcher, request } from 'undici';

/**
 * The gateway's connections to the services behind it: undici's request API, which costs about half
 * node:http's client CPU per call (README, "Performance notes"); every call through the gateway
 * makes one. Idle connections close after 60 s, before the services close theirs (65 s, see
 * startService). No cap per service: every device's long poll through the gateway holds one.
 */
const agent = new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000, connections: null });

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
 * Sends a call's bytes to a service as they are and hands back its answer's, unparsed: the pass-through
 * for calls the service behind validates itself. Rejects only when the service cannot be reached
 * (the connection's error code, e.g. ECONNREFUSED) or does not answer in time.
 */
export async function relayCall(url: URL, call: RelayedCall): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  const timeoutMs = call.timeoutMs ?? 90_000;
  try {
    const answer = await request(url, {
      dispatcher: agent,
      method: call.method as Dispatcher.HttpMethod,
      headers: call.headers,
      body: call.body,
      signal: call.signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    return { status: answer.statusCode, headers: answer.headers as IncomingHttpHeaders, body: Buffer.from(await answer.body.arrayBuffer()) };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') throw new Error(`${url}: no answer within ${timeoutMs} ms`, { cause: err });
    throw err;
  }
}
