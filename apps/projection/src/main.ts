import 'reflect-metadata';
import { runServiceMain } from '@mdm/platform/http';
import { projectionService } from './projection.definition';
import { ProjectionModule } from './projection.module';

void runServiceMain(projectionService, () => ProjectionModule);
