import 'reflect-metadata';
import { runServiceMain } from '@mdm/platform/http';
import { gatewayService } from './gateway.definition';
import { GatewayModule } from './gateway.module';

void runServiceMain(gatewayService, () => GatewayModule);
