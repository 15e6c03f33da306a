import { DomainError } from '@mdm/contracts/core';
import { Headers } from '@mdm/platform/http';
import { callService } from '@mdm/platform/http-client';
import { currentContext } from '@mdm/platform/logging';
import { actorOf } from '../access/access';
import { Answer, CallContext } from './route-table';

/**
 * Forwards a call to the service that owns it, with the caller's identity and correlation id.
 * The service validates and answers in the API's format; the gateway passes the answer through.
 */
export async function forward(baseUrl: string, ctx: CallContext): Promise<Answer> {
  const { req, principal, body } = ctx;
  const headers: Record<string, string> = {
    [Headers.correlationId]: currentContext().correlationId ?? '',
    [Headers.actor]: actorOf(principal),
  };
  if (principal?.kind === 'tenant') headers[Headers.tenantId] = principal.tenantId;
  const deviceCredential = req.header('authorization');
  if (!principal && deviceCredential?.startsWith('Device ')) headers.authorization = deviceCredential;
  const hasBody = req.method !== 'GET' && req.method !== 'DELETE';
  try {
    return await callService(new URL(req.originalUrl, baseUrl), { method: req.method, headers, body: hasBody ? (body ?? {}) : undefined });
  } catch (err) {
    throw new DomainError(503, 'SERVICE_UNAVAILABLE', `the service behind ${req.path} is unreachable`, {
      cause: (err as Error).message,
    });
  }
}
