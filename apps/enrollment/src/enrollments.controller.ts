import { Body, Controller, Param } from '@nestjs/common';
import { z } from 'zod';
import { tenantParams } from '@mdm/contracts/authority';
import { EnrollBody, deviceParams, enrollBody, enrollmentOperations } from '@mdm/contracts/enrollment';
import { Actor, PathPipe, Serves, ZodPipe } from '@mdm/platform/http';
import { Enrollments } from './enrollments.service';

@Controller()
export class EnrollmentsController {
  constructor(private readonly enrollments: Enrollments) {}

  /** R11–R13 */
  @Serves(enrollmentOperations, 'enroll')
  async enroll(
    @Param(new PathPipe(tenantParams)) { tenantId }: z.infer<typeof tenantParams>,
    @Body(new ZodPipe(enrollBody)) body: EnrollBody,
    @Actor() actor: string,
  ) {
    return this.enrollments.enroll({ tenantId, body, actor });
  }

  @Serves(enrollmentOperations, 'unenroll')
  unenroll(@Param(new PathPipe(deviceParams)) { tenantId, deviceId }: z.infer<typeof deviceParams>, @Actor() actor: string) {
    return this.enrollments.unenroll(tenantId, deviceId, actor);
  }
}
