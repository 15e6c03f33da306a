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

const SECRETS = ['authorization', 'x-mdm-context', 'MDM_OPERATOR_TOKEN', 'MDM_GATEWAY_SIGNING_KEY', 'operatorToken', 'signingKey'];

/**
 * Where a secret could sit in what is logged (a credential header, a token, the configuration),
 * at the top level and one or two levels down (`{ headers: { authorization } }`, `{ req: { headers } }`).
 */
export const REDACTED_PATHS = SECRETS.flatMap((name) => [`["${name}"]`, `*["${name}"]`, `*.*["${name}"]`]);

/** One JSON line per entry, with the ambient tenant and correlation ids mixed in; secrets censored. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
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
