import { Body, Controller, Header, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { CheckInBody, checkInBody, deviceSyncOperations } from '@mdm/contracts/device-sync';
import { Serves, ZodPipe } from '@mdm/platform/http';
import { DeviceAuth } from '../device-auth';
import { MdmSignatureGuard } from '../mdm-signature';
import { CheckInService } from './check-in.service';

@Controller()
export class CheckInController {
  constructor(
    private readonly auth: DeviceAuth,
    private readonly checkIns: CheckInService,
  ) {}

  /** R18/R19: a scheduled check-in, one after a notification and one the user starts are the same call. */
  @Serves(deviceSyncOperations, 'checkIn')
  @Header('content-type', 'application/json; charset=utf-8')
  @UseGuards(MdmSignatureGuard)
  async checkIn(@Req() req: Request, @Body(new ZodPipe(checkInBody)) body: CheckInBody) {
    return this.checkIns.checkIn(this.auth.credential(req), body);
  }
}
