import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { DomainError, HttpOperation, notFound } from '@mdm/contracts/core';
import { Principal, Tokens } from './tokens';

const BEARER = /^Bearer\s+(\S+)$/i;

/** DESIGN.md §4: who may call what. A token of tenant A gets 404 for every id of tenant B. */
@Injectable()
export class Access {
  constructor(private readonly tokens: Tokens) {}

  async authenticate(req: Request): Promise<Principal | undefined> {
    const header = req.header('authorization');
    if (!header) return undefined;
    const token = BEARER.exec(header)?.[1];
    if (!token) throw new DomainError('UNAUTHORIZED', 'expected Authorization: Bearer <token>');
    const principal = await this.tokens.resolve(token);
    if (!principal) throw new DomainError('UNAUTHORIZED', 'unknown or revoked token');
    return principal;
  }

  /** Throws the refusal, or returns the principal allowed to make the call. */
  authorize(principal: Principal | undefined, access: Exclude<HttpOperation['access'], 'device'>, tenantId?: string): Principal | undefined {
    if (access === 'public') return principal;
    if (!principal) throw new DomainError('UNAUTHORIZED', 'a bearer token is required');
    if (access === 'operator') {
      if (principal.kind !== 'operator') throw new DomainError('FORBIDDEN', 'only the platform operator may do this');
      return principal;
    }
    if (principal.kind === 'operator') {
      throw new DomainError('FORBIDDEN', "the operator token does not act inside a tenant: use the tenant's token");
    }
    if (principal.tenantId !== tenantId) throw notFound('tenant');
    if (!access.includes(principal.role)) {
      throw new DomainError('FORBIDDEN', `the role ${principal.role} may not do this`, { role: principal.role });
    }
    return principal;
  }
}

export function actorOf(principal: Principal | undefined): string {
  if (!principal) return 'anonymous';
  return principal.kind === 'operator' ? 'operator' : `token:${principal.tokenId}`;
}
