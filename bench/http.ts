import type { IncomingHttpHeaders } from 'node:http';
import { Agent, Dispatcher, request } from 'undici';

export type { Agent };

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * One HTTP/1.1 call over kept-alive connections with undici's request API: the load generator runs
 * on the same cores as the services it measures, so it uses the cheapest client Node has (node:http's
 * costs about twice its CPU per call, fetch's WHATWG streams several times).
 */
export async function httpCall(
  agent: Agent,
  url: string | URL,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawAnswer> {
  const answer = await request(url, { dispatcher: agent, method: (init.method ?? 'GET') as Dispatcher.HttpMethod, headers: init.headers, body: init.body });
  return { status: answer.statusCode, headers: answer.headers as IncomingHttpHeaders, text: await answer.body.text() };
}

/** Up to `maxSockets` connections per origin, kept alive; from `localAddress` when given (a client address of its own). */
export function keepAliveAgent(maxSockets?: number, localAddress?: string): Agent {
  return new Agent({ connections: maxSockets ?? null, keepAliveTimeout: 60_000, ...(localAddress && { localAddress }) });
}

export interface Answer {
  status: number;
  body: unknown;
}

/** A JSON call (Bearer token or extra headers), the body parsed when it is JSON. */
export async function jsonCall(
  agent: Agent,
  url: string,
  init: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const { status, text } = await httpCall(agent, url, {
    method: init.method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status, body };
}

export async function expectStatus(what: string, status: number, answer: Promise<Answer>): Promise<Record<string, string>> {
  const a = await answer;
  if (a.status !== status) throw new Error(`${what}: ${a.status} ${JSON.stringify(a.body)}`);
  return a.body as Record<string, string>;
}

/** Latency percentile of sorted values (ms). */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
