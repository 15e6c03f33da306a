import { Controller, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { deviceSyncOperations, notificationsQuery } from '@mdm/contracts/device-sync';
import { Serves, ZodPipe } from '@mdm/platform/http';
import { DeviceAuth, unknownDevice } from '../device-auth';
import { MdmSignatureGuard } from '../mdm-signature';
import { LongPollHub, PollRevoked } from './long-poll-hub';

/** R16: a device learns of a check-in notification by long polling (the default push channel). */
@Controller()
export class NotificationsController {
  constructor(
    private readonly auth: DeviceAuth,
    private readonly hub: LongPollHub,
  ) {}

  @Serves(deviceSyncOperations, 'pollNotifications')
  // Signed (when it says so) like every device call: its body is empty (README, "Mdm-Signature").
  @UseGuards(MdmSignatureGuard)
  async poll(
    @Query(new ZodPipe(notificationsQuery)) { waitSeconds }: z.infer<typeof notificationsQuery>,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    const device = await this.auth.authenticate(req);
    const poll = this.hub.poll(device, waitSeconds);
    // The response's 'close' (not the request's, which may fire once a bodiless GET is read) says the
    // client went away; after the answer was written it means nothing.
    res.on('close', () => {
      if (!res.writableEnded) poll.cancel();
    });
    res.setHeader('Cache-Control', 'no-store');
    try {
      return { notifications: await poll.result };
    } catch (err) {
      // Unenrolled or removed while it waited: the credential died with it (R14).
      if (err instanceof PollRevoked) throw unknownDevice();
      throw err;
    }
  }
}
