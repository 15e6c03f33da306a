import 'reflect-metadata';
import { runServiceMain } from '@mdm/platform/http';
import { licensingService } from './licensing.definition';
import { LicensingModule } from './licensing.module';

void runServiceMain(licensingService, () => LicensingModule);
