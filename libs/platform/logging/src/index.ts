import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { DestinationStream, Logger, LoggerOptions } from 'pino';

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

/**
 * One JSON line per entry, with the ambient tenant and correlation ids mixed in; on stdout unless
 * a destination is given (the device agent's terminal belongs to its summary).
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    mixin: () => {
      const { correlationId, tenantId } = currentContext();
      return { ...(correlationId && { correlationId }), ...(tenantId && { tenantId }) };
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

export { destination as logDestination } from 'pino';

export type { Logger } from 'pino';
