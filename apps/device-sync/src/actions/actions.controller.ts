import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { z } from 'zod';
import { actionBody, actionParams, deviceActionParams } from '@mdm/contracts/device-sync';
import { Actor, PathPipe, ZodPipe } from '@mdm/platform/http';
import { ActionsService } from './actions.service';

/** R24: remote actions (the gateway admits admin and helpdesk tokens to queue, readers to look). */
@Controller('api/v1/tenants/:tenantId/devices/:deviceId/actions')
export class ActionsController {
  constructor(@Inject(ActionsService) private readonly actions: ActionsService) {}

  @Post()
  @HttpCode(202)
  queue(
    @Param(new PathPipe(deviceActionParams)) { tenantId, deviceId }: z.infer<typeof deviceActionParams>,
    @Body(new ZodPipe(actionBody)) { type }: z.infer<typeof actionBody>,
    @Actor() actor: string,
  ) {
    return this.actions.queue(tenantId, deviceId, type, actor);
  }

  @Get(':commandId')
  get(@Param(new PathPipe(actionParams)) { tenantId, deviceId, commandId }: z.infer<typeof actionParams>) {
    return this.actions.get(tenantId, deviceId, commandId);
  }
}
