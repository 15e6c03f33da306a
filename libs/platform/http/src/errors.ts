import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { DomainError, ERROR_STATUS } from '@mdm/contracts/core';
import { Logger } from '@mdm/platform/logging';
import { unavailableDependency } from '@mdm/platform/database';

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

const httpCodes: Record<number, string> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/**
 * Maps anything thrown to the API's error format: an unreachable dependency is a 503 the caller may
 * retry; only a genuine bug becomes a 500.
 */
export function toErrorResponse(err: unknown, logger: Logger): { status: number; body: ErrorBody } {
  if (err instanceof DomainError) {
    return { status: ERROR_STATUS[err.code], body: { code: err.code, message: err.message, ...(err.details !== undefined && { details: err.details }) } };
  }
  const parserError = err as { type?: string; status?: number; message?: string };
  if (parserError?.type === 'entity.too.large') {
    return { status: 413, body: { code: 'PAYLOAD_TOO_LARGE', message: 'request body exceeds 1 MiB' } };
  }
  if (parserError?.type === 'entity.parse.failed') {
    return { status: 400, body: { code: 'VALIDATION_FAILED', message: 'request body is not valid JSON' } };
  }
  if (parserError?.type && parserError.status && parserError.status < 500) {
    return { status: parserError.status, body: { code: httpCodes[parserError.status] ?? 'BAD_REQUEST', message: parserError.message ?? 'bad request' } };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    if (status < 500) return { status, body: { code: httpCodes[status] ?? 'BAD_REQUEST', message: err.message } };
  }
  const dependency = unavailableDependency(err);
  if (dependency) {
    logger.warn({ err, dependency }, 'a dependency is unavailable');
    return {
      status: 503,
      body: {
        code: 'DEPENDENCY_UNAVAILABLE',
        message: `${dependency === 'network' ? 'a dependency of this call is unreachable' : `${dependency} is unavailable`}; retry`,
        details: { dependency },
      },
    };
  }
  logger.error({ err }, 'unhandled error');
  return { status: 500, body: { code: 'INTERNAL', message: 'internal error' } };
}

@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}
  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const { status, body } = toErrorResponse(err, this.logger);
    res.status(status).json(body);
  }
}

/** Express error middleware for what fails before Nest routes a request (the body parser). */
export function bodyErrorHandler(logger: Logger) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const { status, body } = toErrorResponse(err, logger);
    res.status(status).json(body);
  };
}
