import 'reflect-metadata';
import { runServiceMain } from '@mdm/platform/http';
import { deviceSyncService } from './device-sync.definition';
import { DeviceSyncModule } from './device-sync.module';

void runServiceMain(deviceSyncService, () => DeviceSyncModule);
