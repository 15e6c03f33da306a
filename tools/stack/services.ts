import { ServiceDefinition } from '@mdm/platform/http';
import { authorityService } from '../../apps/authority/src/authority.definition';
import { deviceSyncService } from '../../apps/device-sync/src/device-sync.definition';
import { enrollmentService } from '../../apps/enrollment/src/enrollment.definition';
import { gatewayService } from '../../apps/api-gateway/src/gateway.definition';
import { licensingService } from '../../apps/licensing/src/licensing.definition';
import { projectionService } from '../../apps/projection/src/projection.definition';

export interface StackService {
  /** The app folder under apps/. */
  app: string;
  definition: ServiceDefinition;
  /** The gateway's setting that points at this service, if it is behind the gateway. */
  urlVariable?: string;
}

/** Every service of the system, in start order: the gateway last, once what it routes to is up. */
export const stackServices: StackService[] = [
  { app: 'authority', definition: authorityService, urlVariable: 'AUTHORITY_URL' },
  { app: 'licensing', definition: licensingService, urlVariable: 'LICENSING_URL' },
  { app: 'enrollment', definition: enrollmentService, urlVariable: 'ENROLLMENT_URL' },
  { app: 'device-sync', definition: deviceSyncService, urlVariable: 'DEVICE_SYNC_URL' },
  { app: 'projection', definition: projectionService, urlVariable: 'PROJECTION_URL' },
  { app: 'api-gateway', definition: gatewayService },
];
