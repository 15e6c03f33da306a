import { Provider, Type } from '@nestjs/common';
import { ActionsPort } from '../ports';
import { ActionsController } from './actions.controller';
import { ActionsService } from './actions.service';

/**
 * R24, for the device-sync module: `controllers: [...actionControllers]`, `providers: [...actionProviders]`.
 * ActionsService needs Database, EventStore, CLOCK (PlatformModule) and a NotifierPort provider.
 */
export const actionControllers: Type[] = [ActionsController];
export const actionProviders: Provider[] = [ActionsService, { provide: ActionsPort, useExisting: ActionsService }];
