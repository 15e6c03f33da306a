import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface Answer<T = unknown> {
  status: number;
  /** The JSON answer; undefined when there was none. */
  body: T;
}

export interface Call {
  method?: string;
  /** Bearer token of an admin, enroller or the operator. */
  token?: string;
  /** The device's credential: `Authorization: Device <credential>`. */
  device?: string;
  body?: string;
  headers?: Record<string, string>;
  /** Default 90 s: an overloaded server still does what was asked; leaving early only makes it do it twice. */
  timeoutMs?: number;
}

export interface ClientOptions {
  /** Connections for commands (enrollments, check-ins, admin calls). */
  commandSockets: number;
  /** Connections for long polls: each waiting poll holds one. */
  pollSockets: number;
}

/**
 * The device API and the admin API as a device fleet calls them: node:http over two kept-alive
 * agents, so 10,000 waiting long polls never starve the check-ins of connections, and both stay
 * bounded (each socket is a file; see the README on file limits).
 */
export class GatewayClient {
  private readonly commands: Agent;
  private readonly polls: Agent;
  private readonly send: typeof request;

  constructor(
    readonly baseUrl: string,
    opts: ClientOptions,
    /**
     * Where devices long poll: the gateway by default, or gateways (replicas) that devices are
     * spread over by their index (see the README on file limits).
     */
    readonly pollUrls: string[] = [baseUrl],
  ) {
    const https = baseUrl.startsWith('https:');
    const Kind = https ? HttpsAgent : Agent;
    this.send = (https ? httpsRequest : request) as typeof request;
    // The services close idle connections after 65 s; ours go first.
    this.commands = new Kind({ keepAlive: true, maxSockets: opts.commandSockets, maxFreeSockets: opts.commandSockets, timeout: 60_000 });
    this.polls = new Kind({ keepAlive: true, maxSockets: opts.pollSockets, maxFreeSockets: opts.pollSockets, timeout: 60_000 });
  }

  call<T = unknown>(path: string, call: Call = {}): Promise<Answer<T>> {
    return this.exchange<T>(this.commands, new URL(path, this.baseUrl), call);
  }

  json<T = unknown>(path: string, call: Omit<Call, 'body'> & { body?: unknown } = {}): Promise<Answer<T>> {
    return this.call<T>(path, { ...call, body: call.body === undefined ? undefined : JSON.stringify(call.body) });
  }

  /** One long poll of device `index`: answers after at most waitSeconds (a margin more before giving up). */
  poll<T = unknown>(index: number, credential: string, waitSeconds: number, headers?: Record<string, string>): Promise<Answer<T>> {
    const url = new URL(`/device/v1/notifications?waitSeconds=${waitSeconds}`, this.pollUrls[index % this.pollUrls.length]);
    return this.exchange<T>(this.polls, url, { device: credential, headers, timeoutMs: (waitSeconds + 15) * 1000 });
  }

  /** Sockets of the long polls (open, or waiting to be reused). */
  get pollSocketCount(): number {
    return countSockets(this.polls);
  }

  /** Ends every call in flight and every connection. */
  close(): void {
    this.polls.destroy();
    this.commands.destroy();
  }

  private exchange<T>(agent: Agent, url: URL, call: Call): Promise<Answer<T>> {
    const headers: Record<string, string | number> = { ...call.headers };
    if (call.token) headers.authorization = `Bearer ${call.token}`;
    if (call.device) headers.authorization = `Device ${call.device}`;
    if (call.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(call.body);
    }
    return new Promise((resolve, reject) => {
      const req = this.send(url, { method: call.method ?? 'GET', headers, agent, timeout: call.timeoutMs ?? 90_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode ?? 0, body: body as T });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${url.pathname}: no answer within ${call.timeoutMs ?? 90_000} ms`)));
      req.on('error', reject);
      req.end(call.body);
    });
  }
}

function countSockets(agent: Agent): number {
  let n = 0;
  for (const list of Object.values(agent.sockets)) n += list?.length ?? 0;
  for (const list of Object.values(agent.freeSockets)) n += list?.length ?? 0;
  return n;
}

/** What this server accepts beyond the first version of the device API (issue 14 part 1, API.md "Device identity and push"). */
export interface ServerFeatures {
  /** Enrollment takes the device's own key as a PKCS#10 request. */
  enrollmentCsr: boolean;
  /** A check-in takes a renewal's PKCS#10 request. */
  checkInCsr: boolean;
}

type JsonSchema = { $ref?: string; properties?: Record<string, unknown>; allOf?: JsonSchema[]; anyOf?: JsonSchema[]; oneOf?: JsonSchema[] };
type OpenApi = {
  paths?: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>>;
  components?: { schemas?: Record<string, JsonSchema> };
};

/**
 * Reads the features off the server's OpenAPI document: the agent sends a field only when the
 * operation's request schema names it (an older server refuses an unknown field with 400).
 */
export function featuresOf(doc: OpenApi): ServerFeatures {
  const accepts = (path: string, method: string, field: string) => {
    const schema = doc.paths?.[path]?.[method]?.requestBody?.content?.['application/json']?.schema;
    return schema !== undefined && propertyNames(doc, schema, 0).has(field);
  };
  return {
    enrollmentCsr: accepts('/api/v1/tenants/{tenantId}/enrollments', 'post', 'csrPem'),
    checkInCsr: accepts('/device/v1/check-in', 'post', 'csrPem'),
  };
}

function propertyNames(doc: OpenApi, schema: JsonSchema, depth: number): Set<string> {
  if (depth > 8) return new Set();
  if (schema.$ref) {
    const target = doc.components?.schemas?.[schema.$ref.replace('#/components/schemas/', '')];
    return target ? propertyNames(doc, target, depth + 1) : new Set();
  }
  const names = new Set(Object.keys(schema.properties ?? {}));
  for (const part of [...(schema.allOf ?? []), ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) {
    for (const name of propertyNames(doc, part, depth + 1)) names.add(name);
  }
  return names;
}

export async function discoverFeatures(client: GatewayClient): Promise<ServerFeatures> {
  const res = await client.json<OpenApi>('/api/v1/openapi.json');
  if (res.status !== 200) throw new Error(`GET /api/v1/openapi.json: ${res.status}`);
  return featuresOf(res.body);
}
