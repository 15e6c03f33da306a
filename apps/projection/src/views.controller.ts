import { Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { deviceListQuery, deviceViewParams, tenantViewParams, viewPageQuery } from '@mdm/contracts/projection';
import { PathPipe, ZodPipe } from '@mdm/platform/http';
import { ViewGenerations } from './view-generations';
import { ViewsService } from './views.service';

type TenantParams = z.infer<typeof tenantViewParams>;
type Page = z.infer<typeof viewPageQuery>;

/** API.md "Views" (R26–R29). The gateway admits tenant readers and checks the tenant; every query is within it. */
@Controller('api/v1/tenants/:tenantId')
export class ViewsController {
  constructor(@Inject(ViewsService) private readonly views: ViewsService) {}

  @Get('overview')
  overview(@Param(new PathPipe(tenantViewParams)) { tenantId }: TenantParams) {
    return this.views.overview(tenantId);
  }

  @Get('devices')
  devices(@Param(new PathPipe(tenantViewParams)) { tenantId }: TenantParams, @Query(new ZodPipe(deviceListQuery)) q: z.infer<typeof deviceListQuery>) {
    return this.views.listDevices(tenantId, q);
  }

  @Get('devices/:deviceId')
  device(@Param(new PathPipe(deviceViewParams)) { tenantId, deviceId }: z.infer<typeof deviceViewParams>) {
    return this.views.device(tenantId, deviceId);
  }

  @Get('reports/migration')
  migration(@Param(new PathPipe(tenantViewParams)) { tenantId }: TenantParams) {
    return this.views.migrationReport(tenantId);
  }

  @Get('reports/redundant-configurations')
  redundant(@Param(new PathPipe(tenantViewParams)) { tenantId }: TenantParams, @Query(new ZodPipe(viewPageQuery)) q: Page) {
    return this.views.redundantConfigurations(tenantId, q);
  }

  @Get('reports/unconfigured-switches')
  switches(@Param(new PathPipe(tenantViewParams)) { tenantId }: TenantParams, @Query(new ZodPipe(viewPageQuery)) q: Page) {
    return this.views.unconfiguredSwitches(tenantId, q);
  }

  @Get('reports/removal-due')
  removalDue(@Param(new PathPipe(tenantViewParams)) { tenantId }: TenantParams, @Query(new ZodPipe(viewPageQuery)) q: Page) {
    return this.views.removalDue(tenantId, q);
  }
}

/** R30: the operator's rebuild (the gateway admits the operator token only). */
@Controller('api/v1/system/projection/rebuild')
export class RebuildController {
  constructor(@Inject(ViewGenerations) private readonly generations: ViewGenerations) {}

  @Post()
  @HttpCode(202)
  start() {
    return this.generations.startRebuild();
  }

  @Get()
  status() {
    return this.generations.status();
  }
}
