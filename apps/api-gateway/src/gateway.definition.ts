import path from 'node:path';
import { ServiceDefinition } from '@mdm/platform/http';
import { accessEvents } from './access/access.events';
import { gatewayConfig } from './gateway.config';
import { GatewaySchema1764200000100 } from './gateway.schema';
import { consoleFiles } from './console-files';
import { servicePassThrough } from './routing/pass-through';

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
