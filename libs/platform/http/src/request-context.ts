import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { Logger, runWithContext } from '@mdm/platform/logging';
import { Metrics } from './metrics';

export const Headers = {
  correlationId: 'x-correlation-id',
  /** A device's detached CMS signature of the body (API.md "Device identity and push"). */
  mdmSignature: 'mdm-signature',
} as const;

const TENANT_IN_PATH = /\/tenants\/([0-9a-f-]{36})(?:\/|$)/i;

/** Gives every request a correlation id (kept from the caller when sent) and logs one line when it ends. */
export function requestContext(logger: Logger, metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction) => {
    const correlationId = req.header(Headers.correlationId) || randomUUID();
    const tenantId = TENANT_IN_PATH.exec(req.path)?.[1];
    res.setHeader(Headers.correlationId, correlationId);
    const started = process.hrtime.bigint();
    runWithContext({ correlationId, tenantId }, () => {
      res.on('finish', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const route = (req.route?.path as string | undefined) ?? (res.locals.route as string | undefined) ?? 'unmatched';
        metrics.httpDuration.observe({ method: req.method, route, status: String(res.statusCode) }, ms / 1000);
        if (req.path !== '/metrics' && req.path !== '/health') {
          runWithContext({ correlationId, tenantId }, () =>
            // Calls between services (read-your-writes, the views' freshness) come many a second: debug.
            logger[req.path.startsWith('/internal/') && res.statusCode < 400 ? 'debug' : 'info'](
              { method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 },
              'http',
            ),
          );
        }
      });
      next();
    });
  };
}
