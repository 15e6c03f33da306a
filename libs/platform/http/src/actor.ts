import { ExecutionContext, createParamDecorator } from '@nestjs/common';
import type { Request } from 'express';
import { Headers } from './request-context';

/** Who issued the command: the gateway names the token (`token:<id>`); a direct call is `system`. */
export const Actor = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  return ctx.switchToHttp().getRequest<Request>().header(Headers.actor) || 'system';
});
