import 'reflect-metadata';
import { runServiceMain } from '@mdm/platform/http';
import { enrollmentService } from './enrollment.definition';
import { EnrollmentModule } from './enrollment.module';

void runServiceMain(enrollmentService, () => EnrollmentModule);
