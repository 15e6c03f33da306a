import { All, Controller, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DomainError, HttpOperation } from '@mdm/contracts/core';
import { LOGGER, parseOrThrow, parsePath, toErrorResponse } from '@mdm/platform/http';
import { Logger } from '@mdm/platform/logging';
import { Access } from '../access/access';
import { Principal } from '../access/tokens';
import { AuditLog } from '../audit';
import { Answer, RouteTable, isProxied } from './route-table';

export const ROUTE_TABLE = Symbol('ROUTE_TABLE');

/**
 * The calls the gateway answers itself, and every path no operation has (404): find the operation,
 * authenticate, authorise (404 across tenants), validate, run it, and audit admin commands with
 * their outcome. The calls services answer never get here: the pass-through relays them first.
 */
@Controller()
export class DispatcherController {
  constructor(
    @Inject(ROUTE_TABLE) private readonly routes: RouteTable,
    private readonly access: Access,
    private readonly audit: AuditLog,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @All(['api/*path', 'device/*path'])
  async dispatch(@Req() req: Request, @Res() res: Response): Promise<void> {
    let principal: Principal | undefined;
    let answer: Answer;
    const found = this.routes.match(req.method, req.path);
    try {
      if (!found || isProxied(found.route)) throw new DomainError('NOT_FOUND', `no ${req.method} ${req.path}`);
      const { params } = found;
      const { operation, handle } = found.route;
      principal = await this.access.authenticate(req);
      // None of the gateway's own calls is a device's.
      this.access.authorize(principal, operation.access as Exclude<HttpOperation['access'], 'device'>, params.tenantId);
      answer = await handle({
        req,
        params: operation.params ? parsePath(operation.params, params) : params,
        principal,
        body: operation.body ? parseOrThrow(operation.body, req.body ?? {}, 'body') : undefined,
        query: operation.query ? parseOrThrow(operation.query, req.query, 'query') : req.query,
      });
    } catch (err) {
      const { status, body } = toErrorResponse(err, this.logger);
      answer = { status, body };
    }
    if (found?.route.operation.audited) {
      await this.audit.recordCall({
        action: found.route.operation.id,
        path: req.path,
        principal,
        status: answer.status,
        code: (answer.body as { code?: string } | undefined)?.code,
        answeredTenantId: (answer.body as { tenantId?: string } | undefined)?.tenantId,
      });
    }
    if (answer.body === undefined) res.status(answer.status).end();
    else res.status(answer.status).json(answer.body);
  }

}
