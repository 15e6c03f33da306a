import type { Server } from 'node:http';
import { INestApplication, LoggerService, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Application, json } from 'express';
import { ConfigError } from '@mdm/platform/config';
import { InboxEventTransport } from '@mdm/platform/inbox';
import { Logger } from '@mdm/platform/logging';
import { callerAuthentication, signedBodyCheck } from './caller';
import { ApiExceptionFilter, bodyErrorHandler } from './errors';
import { listenOnPort } from './listen';
import { ConsumerHandle, HttpDrain, PlatformModule } from './platform.module';
import { requestContext } from './request-context';
import { ServiceDefinition, ServiceRuntime } from './service-runtime';

/** Request bodies above this size are refused with 413 PAYLOAD_TOO_LARGE (API.md). */
export const BODY_LIMIT = '1mb';

/** A request whose JSON body was parsed keeps its bytes in `rawBody`. */
export type RawBodyRequest = import('node:http').IncomingMessage & { rawBody?: Buffer };

export interface RunningService {
  app: INestApplication;
  runtime: ServiceRuntime;
  url: string;
  /** The HTTP servers of its listening sockets (one port), Nest's first. */
  servers: Server[];
  close(): Promise<void>;
}

export type ModuleFactory = (runtime: ServiceRuntime) => Type<unknown> | ReturnType<typeof PlatformModule.forRuntime>;

function nestLogger(logger: Logger): LoggerService {
  const log = logger.child({ component: 'nest' });
  return {
    log: (message, context) => log.debug({ context }, String(message)),
    error: (message, trace, context) => log.error({ context, trace }, String(message)),
    warn: (message, context) => log.warn({ context }, String(message)),
    debug: (message, context) => log.debug({ context }, String(message)),
    verbose: (message, context) => log.trace({ context }, String(message)),
  };
}

/**
 * Starts one service: migrations, topics, outbox relay, HTTP with the platform's error format,
 * body limit, request context, /health and /metrics, and the event consumer when it has one.
 */
export async function startService(
  definition: ServiceDefinition,
  appModule: ModuleFactory,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningService> {
  const runtime = new ServiceRuntime(definition, env);
  await runtime.start();
  const { logger } = runtime;
  const app = await NestFactory.create(
    { module: class ServiceRoot {}, imports: [PlatformModule.forRuntime(runtime), appModule(runtime)] },
    { bodyParser: false, logger: nestLogger(logger), abortOnError: false },
  );
  // A service's answers reach callers through the gateway, which passes on their status, type and
  // bytes but no ETag: Express would hash every body for nothing.
  if (!definition.edge) (app.getHttpAdapter().getInstance() as Application).set('etag', false);
  app.use(requestContext(logger, runtime.metrics));
  app.use(callerAuthentication(runtime.signer, definition.edge));
  if (definition.passThrough) app.use(definition.passThrough(app, runtime));
  // The body's bytes are checked against the gateway's signed context, and kept as they came: a
  // device's Mdm-Signature is checked against them.
  app.use(
    json({
      limit: BODY_LIMIT,
      verify: (req, res, raw) => {
        (req as RawBodyRequest).rawBody = raw;
        signedBodyCheck(req as never, res as never, raw);
      },
    }),
  );
  app.use(bodyErrorHandler(logger));
  app.useGlobalFilters(new ApiExceptionFilter(logger));
  // The runtime's definition: its topics carry the namespace, if one is configured.
  const { consumes } = runtime.definition;
  const { consumption } = runtime;
  if (consumes && consumption && !consumes.ownConsumers) {
    const { mode, awaitedStreams } = consumes;
    const { groupId, topics } = consumption;
    const transport = new InboxEventTransport({
      kafka: runtime.kafka,
      db: runtime.db,
      groupId,
      topics: [...topics],
      registry: runtime.registry,
      logger: logger.child({ component: 'inbox', groupId }),
      mode,
      awaitedStreams,
    });
    app.connectMicroservice({ strategy: transport }, { inheritAppConfig: true });
    await app.startAllMicroservices();
    app.get(ConsumerHandle).consumer = transport.inbox;
  }
  // Idle keep-alive connections outlive the callers' (callService closes its own after 60 s): a caller
  // never reuses a connection this side is closing at that moment.
  const server = app.getHttpServer() as Server;
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const { servers, url } = await listenOnPort(app, runtime.config.port, runtime.config.HOST, runtime.config.LISTEN_SOCKETS);
  logger.info({ url, schema: runtime.config.schema }, `${definition.name} listening`);
  const drain = app.get(HttpDrain);
  let closing: Promise<void> | undefined;
  return {
    app,
    runtime,
    url,
    servers,
    close: () =>
      (closing ??= (async () => {
        drain.begin(servers);
        // Nest's close runs: the long polls answered (device-sync's hub, onModuleDestroy), the
        // in-flight requests finished (HttpDrain, beforeApplicationShutdown), the consumers' offsets
        // committed and their groups left (the transport, the projection's shutdown hook).
        await app.close();
        // Then the relay ends its session, which releases its leader lock; then the pool.
        await runtime.stop();
      })()),
  };
}

/** How long a service may drain after SIGTERM before it exits anyway. */
export const DRAIN_BOUND_MS = 10_000;

/**
 * The `main.ts` of every service: start, log a clear line on bad config, drain on SIGTERM or
 * SIGINT, bounded by DRAIN_BOUND_MS. A second signal while draining is logged and changes nothing.
 */
export async function runServiceMain(definition: ServiceDefinition, appModule: ModuleFactory): Promise<void> {
  let service: RunningService;
  try {
    service = await startService(definition, appModule);
  } catch (err) {
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`${definition.name} failed to start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  }
  const { logger } = service.runtime;
  let draining = false;
  const stop = async (signal: string) => {
    if (draining) {
      logger.info({ signal }, 'already draining');
      return;
    }
    draining = true;
    const started = Date.now();
    logger.info({ signal }, 'draining');
    setTimeout(() => {
      logger.error({ boundMs: DRAIN_BOUND_MS }, 'drain did not finish in time; exiting');
      process.exit(1);
    }, DRAIN_BOUND_MS).unref();
    try {
      await service.close();
      logger.info({ ms: Date.now() - started }, 'drained');
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'error while draining');
      process.exit(1);
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop(signal));
}
