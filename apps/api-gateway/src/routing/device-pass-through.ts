import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { DomainError, HttpOperation } from '@mdm/contracts/core';
import { deviceSyncOperations } from '@mdm/contracts/device-sync';
import { Headers, ServiceRuntime, bodyErrorHandler } from '@mdm/platform/http';
import { relayCall } from '@mdm/platform/http-client';
import { currentContext } from '@mdm/platform/logging';
import type { GatewayConfig } from '../gateway.definition';

const BODY_LIMIT_BYTES = 1024 * 1024;

/** The device API's operations: devices authenticate at device-sync with their own credential. */
const deviceOperations = deviceSyncOperations.filter((op) => op.access === 'device');

function operationOf(req: Request): HttpOperation | undefined {
  return deviceOperations.find((op) => op.method === req.method && op.path === req.path);
}

/**
 * The device API (check-ins, notification long polls) passed through to device-sync as bytes,
 * before Nest and body parsing. The gateway has nothing to decide on these calls: devices
 * authenticate and are validated at device-sync, which answers in the API's format. A fleet checking
 * in is the system's hottest path, and parsing and re-serialising each body here cost as much as
 * the rest of the gateway's work. Only the credential, the body's type and the correlation id are
 * sent on, never a caller's own x-tenant-id or x-actor. Other paths (an unknown device path
 * included, for its 404) go on to the dispatcher.
 */
export function devicePassThrough(runtime: ServiceRuntime): RequestHandler {
  const deviceSyncUrl = (runtime.config as unknown as GatewayConfig).DEVICE_SYNC_URL;
  const answerError = bodyErrorHandler(runtime.logger);
  return (req: Request, res: Response, next: NextFunction) => {
    const operation = operationOf(req);
    if (!operation) return next();
    res.locals.route = operation.path;
    const fail = (status: DomainError['status'], code: string, message: string, details?: unknown) =>
      answerError(new DomainError(status, code, message, details), req, res, next);
    void readBody(req).then(
      (body) => (body ? relay(req, res, body, fail) : fail(413, 'PAYLOAD_TOO_LARGE', 'request body exceeds 1 MiB')),
      (err: Error) => fail(400, 'VALIDATION_FAILED', `request body could not be read: ${err.message}`),
    );
  };

  async function relay(req: Request, res: Response, body: Buffer, fail: (status: DomainError['status'], code: string, message: string, details?: unknown) => void) {
    const headers: Record<string, string> = { [Headers.correlationId]: currentContext().correlationId ?? '' };
    const credential = req.header('authorization');
    if (credential) headers.authorization = credential;
    const contentType = req.header('content-type');
    if (contentType) headers['content-type'] = contentType;
    // A device that drops its long poll cancels it at device-sync, so no notification is handed to nobody.
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableEnded) abort.abort();
    });
    try {
      const answer = await relayCall(new URL(req.originalUrl, deviceSyncUrl), { method: req.method, headers, body, signal: abort.signal });
      for (const name of ['content-type', 'cache-control']) {
        const value = answer.headers[name];
        if (value) res.setHeader(name, value);
      }
      res.status(answer.status).end(answer.body);
    } catch (err) {
      if (abort.signal.aborted) return;
      fail(503, 'SERVICE_UNAVAILABLE', `the service behind ${req.path} is unreachable`, { cause: (err as Error).message });
    }
  }
}

/** The request's body, or undefined once it passes the API's 1 MiB limit. */
function readBody(req: Request): Promise<Buffer | undefined> {
  if (Number(req.header('content-length') ?? 0) > BODY_LIMIT_BYTES) {
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > BODY_LIMIT_BYTES ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
