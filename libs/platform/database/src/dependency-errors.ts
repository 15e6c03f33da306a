/**
 * Tells an outage of something a service depends on (Postgres, Kafka, another service) from a bug:
 * the first is a 503 the caller may retry, the second a 500. The errors come from three clients
 * (pg, wrapped by TypeORM; kafkajs; node:http), none of which marks "unreachable" the same way.
 */

/** Socket errors: the peer is down, restarting or unreachable. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Postgres SQLSTATEs of a server that is going away or not there yet: class 08 (connection
 * exception), admin/crash shutdown, cannot connect now (starting or recovering), too many connections.
 */
const PG_UNAVAILABLE = /^(08...|57P01|57P02|57P03|53300)$/;

/** What pg throws when the server goes away under a client or a pool cannot get a connection in time. */
const PG_MESSAGES = [/^Connection terminated/, /timeout exceeded when trying to connect/, /is not queryable/];

/** kafkajs errors of a broker that cannot be reached or does not answer (its others are bugs or refusals). */
const KAFKA_UNAVAILABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
]);

interface ErrorLike {
  name?: string;
  message?: string;
  code?: unknown;
  retriable?: boolean;
  cause?: unknown;
  driverError?: unknown;
  originalError?: unknown;
  errors?: unknown[];
}

/**
 * Which dependency an error says is unavailable ('postgres', 'kafka', 'network'), or undefined when
 * the error is something else. Wrapped errors (TypeORM's driverError, a cause, an AggregateError's
 * errors) are looked through.
 */
export function unavailableDependency(err: unknown, depth = 0): 'postgres' | 'kafka' | 'network' | undefined {
  if (!err || typeof err !== 'object' || depth > 5) return undefined;
  const e = err as ErrorLike;
  if (typeof e.name === 'string' && e.name.startsWith('KafkaJS')) {
    if (KAFKA_UNAVAILABLE.has(e.name) || e.retriable === true) return 'kafka';
  }
  if (typeof e.code === 'string' && PG_UNAVAILABLE.test(e.code)) return 'postgres';
  if (typeof e.message === 'string' && PG_MESSAGES.some((m) => m.test(e.message!))) return 'postgres';
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return 'network';
  for (const inner of [e.driverError, e.cause, e.originalError, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    const found = unavailableDependency(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}
