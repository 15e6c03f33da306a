import createClient from 'openapi-fetch';
import type { paths } from './schema';
import { forgetToken, readToken } from '../session/token';

/** Sent on the window when the gateway no longer knows the token (revoked): the session ends. */
export const SIGNED_OUT_EVENT = 'mdm:signed-out';

/** The public API, typed from the gateway's own OpenAPI document (schema.d.ts is generated from it). */
export const api = createClient<paths>({ baseUrl: window.location.origin });

api.use({
  onRequest({ request }) {
    const token = readToken();
    if (token) request.headers.set('authorization', `Bearer ${token}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401 && readToken()) {
      forgetToken();
      window.dispatchEvent(new Event(SIGNED_OUT_EVENT));
    }
    return response;
  },
});

/** A refusal in the API's error format: `{ code, message, details? }` with its status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The answer's data, or its refusal thrown as an ApiError (so TanStack Query sees it as an error). */
export async function call<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await pending;
  if (!response.ok) {
    const body = (error ?? {}) as { code?: string; message?: string; details?: unknown };
    throw new ApiError(response.status, body.code ?? `HTTP_${response.status}`, body.message ?? response.statusText, body.details);
  }
  return data as T;
}

export const isConflict = (err: unknown) => err instanceof ApiError && err.status === 409;

/** A 400 VALIDATION_FAILED's messages by the field they name, without the `body.` prefix (API.md "Details that clients rely on"). */
export function fieldErrors(err: unknown): Record<string, string> {
  if (!(err instanceof ApiError) || err.code !== 'VALIDATION_FAILED') return {};
  const fields = (err.details as { fields?: { path: string; message: string }[] } | undefined)?.fields ?? [];
  return Object.fromEntries(fields.map((f) => [f.path.replace(/^body\./, ''), f.message]));
}
