import { Body, Controller, Param } from '@nestjs/common';
import { z } from 'zod';
import { actionBody, actionParams, deviceActionParams, deviceSyncOperations } from '@mdm/contracts/device-sync';
import { deviceStreamId } from '@mdm/contracts/enrollment';
import { Actor, PathPipe, Serves, ZodPipe } from '@mdm/platform/http';
import { ReadYourWrites } from '@mdm/platform/inbox';
import { DeviceStateOwners } from '../device-auth';
import { ActionsService } from './actions.service';

/** R24: remote actions (the gateway admits admin and helpdesk tokens to queue, readers to look). */
@Controller()
export class ActionsController {
  constructor(
    private readonly actions: ActionsService,
    private readonly readYourWrites: ReadYourWrites,
    private readonly owners: DeviceStateOwners,
  ) {}

  /** The device as its owner last committed it (enrolled a moment ago, or unenrolled), then the action. */
  @Serves(deviceSyncOperations, 'queueAction')
  async queue(
    @Param(new PathPipe(deviceActionParams)) { tenantId, deviceId }: z.infer<typeof deviceActionParams>,
    @Body(new ZodPipe(actionBody)) { type }: z.infer<typeof actionBody>,
    @Actor() actor: string,
  ) {
    await this.readYourWrites.catchUp(this.owners.enrollmentUrl, tenantId, [deviceStreamId(deviceId)]);
    return this.actions.queue(tenantId, deviceId, type, actor);
  }

  @Serves(deviceSyncOperations, 'getAction')
  get(@Param(new PathPipe(actionParams)) { tenantId, deviceId, commandId }: z.infer<typeof actionParams>) {
    return this.actions.get(tenantId, deviceId, commandId);
  }
}
