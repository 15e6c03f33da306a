import { z } from 'zod';
import { serviceUrl } from '@mdm/platform/config';
import type { ServiceConfig } from '@mdm/platform/http';

// Its own module, importing nothing of the gateway, so that the gateway's parts can take their
// configuration's type without importing the definition that wires them together.
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
