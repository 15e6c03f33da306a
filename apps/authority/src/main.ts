import 'reflect-metadata';
import { runServiceMain } from '@mdm/platform/http';
import { authorityService } from './authority.definition';
import { AuthorityModule } from './authority.module';

void runServiceMain(authorityService, () => AuthorityModule);
