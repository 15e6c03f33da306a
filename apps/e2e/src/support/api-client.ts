export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A thin HTTP client for the public API, as an outside client would call it. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  get<T = any>(path: string) {
    return this.call<T>('GET', path);
  }
  post<T = any>(path: string, body?: unknown) {
    return this.call<T>('POST', path, body);
  }
  put<T = any>(path: string, body?: unknown) {
    return this.call<T>('PUT', path, body);
  }
  delete<T = any>(path: string) {
    return this.call<T>('DELETE', path);
  }

  /** Sends a raw body (malformed JSON, oversized payloads) exactly as given. */
  async raw<T = any>(method: string, path: string, body: string, contentType = 'application/json'): Promise<ApiResponse<T>> {
    return this.send<T>(method, path, body, contentType);
  }

  async call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    return this.send<T>(method, path, body === undefined ? undefined : JSON.stringify(body), 'application/json', headers);
  }

  private async send<T>(
    method: string,
    path: string,
    body: string | undefined,
    contentType: string,
    extraHeaders: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = contentType;
    const res = await fetch(new URL(path, this.baseUrl), { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }
}
