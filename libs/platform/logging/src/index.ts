import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { Logger } from 'pino';

/** What every log line of one request or one consumed event carries. */
export interface LogContext {
  correlationId?: string;
  tenantId?: string;
  causationId?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

export function runWithContext<T>(context: LogContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...context }, fn);
}

export function currentContext(): LogContext {
  return storage.getStore() ?? {};
}

/** One JSON line per entry, with the ambient tenant and correlation ids mixed in. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: () => {
      const { correlationId, tenantId } = currentContext();
      return { ...(correlationId && { correlationId }), ...(tenantId && { tenantId }) };
    },
  });
}

export type { Logger } from 'pino';
