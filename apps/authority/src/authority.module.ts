import { Module } from '@nestjs/common';
import { ConfigurationsController } from './configurations.controller';
import { TenantsController } from './tenants.controller';
import { TenantsService } from './tenants.service';

@Module({ controllers: [TenantsController, ConfigurationsController], providers: [TenantsService] })
export class AuthorityModule {}
