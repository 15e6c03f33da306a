import { Controller, Param, Query } from '@nestjs/common';
import { z } from 'zod';
import { deviceListQuery, deviceViewParams, projectionOperations, tenantViewParams, viewPageQuery } from '@mdm/contracts/projection';
import { PathPipe, Serves, ZodPipe } from '@mdm/platform/http';
import { ViewGenerations } from './view-generations';
import { ViewsService } from './views.service';

type TenantParams = z.infer<typeof tenantViewParams>;
type Page = z.infer<typeof viewPageQuery>;

/** API.md "Views" (R26–R29). The gateway admits tenant readers and checks the tenant; every query is within it. */
@Controller()
export class ViewsController {
  constructor(private readonly views: ViewsService) {}

  @Serves(projectionOperations, 'getOverview')
  overview(@Param(new PathPipe(tenantViewParams)) { tenantId }: TenantParams) {
    return this.views.overview(tenantId);
  }

  @Serves(projectionOperations, 'listDevices')
  devices(@Param(new PathPipe(tenantViewParams)) { tenantId }: TenantParams, @Query(new ZodPipe(deviceListQuery)) q: z.infer<typeof deviceListQuery>) {
    return this.views.listDevices(tenantId, q);
  }

  @Serves(projectionOperations, 'getDevice')
  device(@Param(new PathPipe(deviceViewParams)) { tenantId, deviceId }: z.infer<typeof deviceViewParams>) {
    return this.views.device(tenantId, deviceId);
  }

  @Serves(projectionOperations, 'migrationReport')
  migration(@Param(new PathPipe(tenantViewParams)) { tenantId }: TenantParams) {
    return this.views.migrationReport(tenantId);
  }

  @Serves(projectionOperations, 'redundantReport')
  redundant(@Param(new PathPipe(tenantViewParams)) { tenantId }: TenantParams, @Query(new ZodPipe(viewPageQuery)) q: Page) {
    return this.views.redundantConfigurations(tenantId, q);
  }

  @Serves(projectionOperations, 'unconfiguredSwitchesReport')
  switches(@Param(new PathPipe(tenantViewParams)) { tenantId }: TenantParams, @Query(new ZodPipe(viewPageQuery)) q: Page) {
    return this.views.unconfiguredSwitches(tenantId, q);
  }

  @Serves(projectionOperations, 'removalDueReport')
  removalDue(@Param(new PathPipe(tenantViewParams)) { tenantId }: TenantParams, @Query(new ZodPipe(viewPageQuery)) q: Page) {
    return this.views.removalDue(tenantId, q);
  }
}

/** R30: the operator's rebuild (the gateway admits the operator token only). */
@Controller()
export class RebuildController {
  constructor(private readonly generations: ViewGenerations) {}

  @Serves(projectionOperations, 'startProjectionRebuild')
  start() {
    return this.generations.startRebuild();
  }

  @Serves(projectionOperations, 'getProjectionRebuild')
  status() {
    return this.generations.status();
  }
}
