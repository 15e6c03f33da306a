import type { INestApplication } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Counter } from 'prom-client';
import { DomainError } from '@mdm/contracts/core';
import { Headers, Metrics, parsePath, toErrorResponse } from '@mdm/platform/http';
import { CallSigner, notConnected, signedContextHeader } from '@mdm/platform/http-client';
import { Logger } from '@mdm/platform/logging';
import { Access, actorOf } from '../access/access';
import { DeviceFailureLimit } from '../access/device-failures';
import { Principal } from '../access/tokens';
import { AuditLog } from '../audit';
import { ROUTE_TABLE } from './dispatcher.controller';
import { relayCall } from './relay-call';
import { ProxiedRoute, RouteTable, isProxied } from './route-table';

const BODY_LIMIT_BYTES = 1024 * 1024;
/** What is passed back of a service's answer besides its status and bytes. */
const ANSWER_HEADERS = ['content-type', 'cache-control', 'retry-after'];

/**
 * The calls a service answers, passed through as bytes before Nest and body parsing: the gateway
 * matches the operation, authenticates and authorises the caller (404 across tenants, bad path ids
 * 404), relays the body unparsed, hands the service's answer back as it came, and audits admin
 * commands with their outcome. The service validates the body and answers in the API's format;
 * parsing and re-serialising every body and answer here cost as much as the rest of the gateway's
 * work. Only the gateway's own headers go on (the caller's identity as the gateway established
 * it, signed and bound to this call, the correlation id, the body's type), and a device's
 * credential on the device API, which device-sync authenticates. The gateway's own calls and unknown paths go on to the dispatcher.
 */
export function servicePassThrough(app: INestApplication, runtime: { signer: CallSigner; logger: Logger; metrics: Metrics }): RequestHandler {
  const refusedContexts = new Counter({
    name: 'gateway_refused_contexts_total',
    help: "Relayed calls whose signed context a service refused twice (answered 503): a key not shared, or queues longer than the context's life",
    registers: [runtime.metrics.registry],
  });
  const refusalWarning = new RateLimitedWarning(runtime.logger, REFUSAL_WARNING_EVERY_MS);
  const routes = app.get<RouteTable>(ROUTE_TABLE);
  const access = app.get(Access);
  const audit = app.get(AuditLog);
  const failures = app.get(DeviceFailureLimit);
  return (req: Request, res: Response, next: NextFunction) => {
    const found = routes.match(req.method, req.path);
    if (!found || !isProxied(found.route)) return next();
    res.locals.route = found.route.operation.path;
    void passThrough(req, res, found.route, found.params);
  };

  async function passThrough(req: Request, res: Response, route: ProxiedRoute, params: Record<string, string>): Promise<void> {
    const { operation } = route;
    let principal: Principal | undefined;
    let answer: { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer };
    const device = operation.access === 'device' ? { address: req.ip ?? '', credential: req.header('authorization') } : undefined;
    // A caller that goes away cancels its call at the service (a device dropping its long poll,
    // so no notification is handed to nobody).
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableEnded) abort.abort();
    });
    try {
      const instances = route.upstream.candidates();
      let target = new URL(req.originalUrl, instances[0]);
      let caller: { actor: string; tenantId?: string; role?: string } = { actor: 'device' };
      if (operation.access !== 'device') {
        principal = await access.authenticate(req);
        access.authorize(principal, operation.access, params.tenantId);
        if (operation.params) parsePath(operation.params, params);
        caller = principal?.kind === 'tenant' ? { actor: actorOf(principal), tenantId: principal.tenantId, role: principal.role } : { actor: actorOf(principal) };
      }
      if (device) {
        const wait = failures.retryAfter(device.address, device.credential);
        if (wait !== undefined) throw new DomainError('TOO_MANY_FAILURES', `too many refused device calls from this address; retry in ${wait} s`, { retryAfter: wait });
      }
      const body = await readBody(req);
      const headers: Record<string, string> = {};
      if (device) {
        if (device.credential) headers.authorization = device.credential;
        // A device's detached CMS signature of the body, which device-sync verifies.
        const signature = req.header(Headers.mdmSignature);
        if (signature) headers[Headers.mdmSignature] = signature;
      }
      const contentType = req.header('content-type');
      if (contentType) headers['content-type'] = contentType;
      /** The call relayed with a context signed now; undefined when the caller went away. */
      const relay = async () => {
        Object.assign(headers, signedContextHeader(runtime.signer, req.method, target, caller, body));
        // An instance that refuses the connection never saw the call: the next one gets it.
        for (let i = 0; ; i++) {
          try {
            return await relayCall(target, { method: req.method, headers, body, signal: abort.signal });
          } catch (err) {
            if (abort.signal.aborted) return undefined;
            if (notConnected(err)) route.upstream.unreachable(target.origin);
            if (!notConnected(err) || i + 1 >= instances.length) {
              throw new DomainError('SERVICE_UNAVAILABLE', `the service behind ${req.path} is unreachable`, { cause: (err as Error).message });
            }
            target = new URL(req.originalUrl, instances[i + 1]);
          }
        }
      };
      let relayed = await relay();
      let refused = relayed && refusedContext(relayed);
      // A service that refused the gateway's own signed context (one that expired on its way, in a
      // queue) read nothing else of the call: signed anew, it goes once more.
      if (refused) {
        relayed = await relay();
        refused = relayed && refusedContext(relayed);
      }
      if (!relayed) return;
      answer = relayed;
      // Refused again (a key not shared, or queues that long): the caller's credential was never
      // judged, and a device told 401 would take its enrollment for dead.
      if (refused) {
        refusedContexts.inc();
        refusalWarning.warn({ upstream: target.origin, path: req.path, reason: refused }, "a service refused the gateway's signed call context");
        throw new DomainError('SERVICE_UNAVAILABLE', `the service behind ${req.path} did not accept the gateway's call; retry`, { retryAfter: 1 });
      }
    } catch (err) {
      const { status, body } = toErrorResponse(err, runtime.logger);
      const retryAfter = err instanceof DomainError ? (err.details as { retryAfter?: number } | undefined)?.retryAfter?.toString() : undefined;
      answer = { status, headers: { 'content-type': 'application/json; charset=utf-8', 'retry-after': retryAfter }, body: Buffer.from(JSON.stringify(body)) };
    }
    if (device) failures.record(device.address, device.credential, answer.status);
    if (operation.audited) await audit.recordCall({ action: operation.id, path: req.path, principal, status: answer.status, code: errorCode(answer) });
    for (const name of ANSWER_HEADERS) {
      const value = answer.headers[name];
      if (value) res.setHeader(name, value);
    }
    res.status(answer.status).end(answer.body);
  }
}

/** At most one warning of refused contexts this often: a key not shared refuses every call. */
const REFUSAL_WARNING_EVERY_MS = 10_000;

/** A warning logged at most once per interval, with how many like it were left out since the last. */
class RateLimitedWarning {
  private last = -Infinity;
  private leftOut = 0;

  constructor(
    private readonly logger: Logger,
    private readonly everyMs: number,
  ) {}

  warn(fields: Record<string, unknown>, message: string): void {
    const now = performance.now();
    if (now - this.last < this.everyMs) {
      this.leftOut++;
      return;
    }
    this.logger.warn({ ...fields, leftOut: this.leftOut }, message);
    this.last = now;
    this.leftOut = 0;
  }
}

/** Why a service refused the gateway's signed call context (its 401 `UNAUTHENTICATED`), or undefined. */
function refusedContext(answer: { status: number; body: Buffer }): string | undefined {
  if (answer.status !== 401) return undefined;
  const { code, message } = refusal(answer) ?? {};
  return code === 'UNAUTHENTICATED' ? (message ?? code) : undefined;
}

/** The code of a refusal, read from the answer only when it is one. */
function errorCode(answer: { status: number; body: Buffer }): string | undefined {
  return refusal(answer)?.code;
}

/** A refusal's body (`{ code, message }`), read only when the answer is one. */
function refusal(answer: { status: number; body: Buffer }): { code?: string; message?: string } | undefined {
  if (answer.status < 400) return undefined;
  try {
    return JSON.parse(answer.body.toString('utf8')) as { code?: string; message?: string };
  } catch {
    return undefined;
  }
}

/** The request's body; a 413 once it passes the API's 1 MiB limit. */
function readBody(req: Request): Promise<Buffer> {
  const tooLarge = () => new DomainError('PAYLOAD_TOO_LARGE', 'request body exceeds 1 MiB');
  if (Number(req.header('content-length') ?? 0) > BODY_LIMIT_BYTES) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT_BYTES) chunks.push(chunk);
    });
    req.on('end', () => (size > BODY_LIMIT_BYTES ? reject(tooLarge()) : resolve(Buffer.concat(chunks))));
    req.on('error', (err) => reject(new DomainError('VALIDATION_FAILED', `request body could not be read: ${err.message}`)));
  });
}
