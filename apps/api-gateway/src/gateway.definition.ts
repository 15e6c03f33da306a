import path from 'node:path';
import { z } from 'zod';
import { serviceUrl } from '@mdm/platform/config';
import { ServiceConfig, ServiceDefinition } from '@mdm/platform/http';
import { accessEvents } from './access/access.events';
import { GatewaySchema1764200000100 } from './gateway.schema';
import { consoleFiles } from './console-files';
import { servicePassThrough } from './routing/pass-through';

export const gatewayConfig = {
  /** The platform operator's token; outside production a random one is made and printed when unset. */
  MDM_OPERATOR_TOKEN: z.string().min(24, 'at least 24 characters').optional(),
  AUTHORITY_URL: serviceUrl('http://127.0.0.1:3101'),
  LICENSING_URL: serviceUrl('http://127.0.0.1:3102'),
  ENROLLMENT_URL: serviceUrl('http://127.0.0.1:3103'),
  DEVICE_SYNC_URL: serviceUrl('http://127.0.0.1:3104'),
  PROJECTION_URL: serviceUrl('http://127.0.0.1:3105'),
  /**
   * Device calls refused with 401 that one client address may make per window before its further
   * device calls get 429 (credentials answered 2xx lately still pass).
   */
  DEVICE_FAILURE_LIMIT: z.coerce.number().int().positive().default(50),
  DEVICE_FAILURE_WINDOW_S: z.coerce.number().int().positive().default(60),
  /**
   * Which proxies in front of the gateway to believe about the client's address (X-Forwarded-For),
   * as Express's `trust proxy` takes it (e.g. `loopback, 10.0.0.0/8`); by default none: the address is the peer's.
   */
  TRUST_PROXY: z.string().optional(),
  /** The built admin console served at `/` (`nx build console`), relative to the working directory. */
  CONSOLE_DIR: z.string().min(1).default('dist/apps/console'),
};

/** The service's whole configuration (the common settings and its own), as injected with SERVICE_CONFIG. */
export type GatewayConfig = ServiceConfig<typeof gatewayConfig>;

export const gatewayService: ServiceDefinition<typeof gatewayConfig> = {
  name: 'api-gateway',
  portVariable: 'GATEWAY_PORT',
  defaultPort: 3000,
  schema: 'gateway',
  migrations: [GatewaySchema1764200000100],
  events: accessEvents,
  produces: [],
  config: gatewayConfig,
  passThrough: (app, runtime) => {
    const config = runtime.config;
    if (config.TRUST_PROXY) (app.getHttpAdapter().getInstance() as { set(name: string, value: unknown): void }).set('trust proxy', config.TRUST_PROXY);
    const relay = servicePassThrough(app, runtime);
    const dir = path.resolve(config.CONSOLE_DIR);
    const console = consoleFiles(dir);
    if (!console) {
      runtime.logger.warn({ dir }, 'no console build: `/` serves nothing (npx nx build console)');
      return relay;
    }
    return (req, res, next) => relay(req, res, () => console(req, res, next));
  },
  edge: true,
  productionSecrets: ['MDM_OPERATOR_TOKEN'],
};
