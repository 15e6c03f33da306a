import { CanActivate, ExecutionContext, UseGuards, createParamDecorator } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { DomainError } from '@mdm/contracts/core';
import { CALL_CONTEXT_HEADER, CallContext, CallSigner, bodyHash } from '@mdm/platform/http-client';
import { runWithContext } from '@mdm/platform/logging';

/** The service every outside call comes through: the only one whose contexts the public API takes. */
export const GATEWAY_SERVICE = 'api-gateway';

/** Open to anyone who reaches the port: probes and scrapes carry no caller. */
const OPEN_PATHS = new Set(['/health', '/metrics']);
// Case-insensitive as the router is: /INTERNAL/… reaches the same handlers.
const INTERNAL = /^\/internal\//i;

/**
 * DESIGN.md §4, services trust no caller: every call needs a context signed with the deployment's
 * key (by the gateway, or by another service for the internal endpoints), good for this very call
 * and not expired; without one it is 401 UNAUTHENTICATED, even from localhost. The public API takes
 * only the gateway's contexts; each internal endpoint names the services it takes (`CalledBy`).
 * The edge service (the gateway) authenticates outside callers itself and checks only /internal.
 * The caller's actor and tenant come from the context alone, never from plain headers.
 */
export function callerAuthentication(signer: CallSigner, edge = false) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (OPEN_PATHS.has(req.path)) return next();
    const internal = INTERNAL.test(req.path);
    if (edge && !internal) return next();
    const check = signer.verify(req.header(CALL_CONTEXT_HEADER), req.method, req.originalUrl);
    if (!check.ok) {
      res.status(401).json(unauthenticated(check.reason));
      return;
    }
    const { context } = check;
    if (!internal && context.service !== GATEWAY_SERVICE) {
      res.status(403).json({ code: 'FORBIDDEN', message: `the API is called through the gateway, not by ${context.service}` });
      return;
    }
    res.locals.caller = context;
    runWithContext({ ...(context.tenantId && { tenantId: context.tenantId }) }, next);
  };
}

const unauthenticated = (reason: string) => ({
  code: 'UNAUTHENTICATED' as const,
  message: `calls to this service need the gateway's signed context: ${reason}`,
});

/**
 * The body parser's `verify`: the body read is the one the context was signed for (a context
 * captured on one command cannot carry another body to the same path). A body the parser does not
 * read (not JSON) is never used either.
 */
export function signedBodyCheck(_req: Request, res: Response, body: Buffer): void {
  const caller = res.locals.caller as CallContext | undefined;
  if (caller && caller.bodyHash !== bodyHash(body)) {
    const { code, message } = unauthenticated('call context signed for another body');
    throw new DomainError(code, message);
  }
}

/** The verified context of the call being answered. */
export function callerOf(res: Response): CallContext {
  const caller = res.locals.caller as CallContext | undefined;
  if (!caller) throw new DomainError('UNAUTHENTICATED', 'no signed call context');
  return caller;
}

/** Throws 403 unless the call was signed by one of `services`. */
export function requireCaller(caller: CallContext, services: readonly string[]): void {
  if (!services.includes(caller.service)) {
    throw new DomainError('FORBIDDEN', `${caller.service} may not call this endpoint`, { allowed: services });
  }
}

class CalledByGuard implements CanActivate {
  constructor(private readonly services: readonly string[]) {}
  canActivate(ctx: ExecutionContext): boolean {
    requireCaller(callerOf(ctx.switchToHttp().getResponse<Response>()), this.services);
    return true;
  }
}

/** An internal endpoint's list of the services that may call it; any other signed caller gets 403. */
export const CalledBy = (...services: string[]) => UseGuards(new CalledByGuard(services));

/** Who issued the command, as the signed context names them: `token:<id>`, `operator`, `service:<name>`. */
export const Actor = createParamDecorator((_: unknown, ctx: ExecutionContext): string => callerOf(ctx.switchToHttp().getResponse<Response>()).actor);
