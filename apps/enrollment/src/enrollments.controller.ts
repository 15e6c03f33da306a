import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { z } from 'zod';
import { tenantParams } from '@mdm/contracts/authority';
import { notFound } from '@mdm/contracts/core';
import { EnrollBody, deviceParams, deviceStreamId, enrollBody } from '@mdm/contracts/enrollment';
import { Database } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { Actor, PathPipe, ZodPipe } from '@mdm/platform/http';
import { Enrollments } from './enrollments.service';

@Controller('api/v1/tenants/:tenantId')
export class EnrollmentsController {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(Enrollments) private readonly enrollments: Enrollments,
  ) {}

  /** R11–R13 */
  @Post('enrollments')
  @HttpCode(201)
  async enroll(
    @Param(new PathPipe(tenantParams)) { tenantId }: z.infer<typeof tenantParams>,
    @Body(new ZodPipe(enrollBody)) body: EnrollBody,
    @Actor() actor: string,
  ) {
    return this.enrollments.enroll({ tenantId, body, actor });
  }

  /** R14: the device record ends; enrolling the serial again makes a new device. */
  @Post('devices/:deviceId/unenroll')
  @HttpCode(200)
  async unenroll(@Param(new PathPipe(deviceParams)) { tenantId, deviceId }: z.infer<typeof deviceParams>, @Actor() actor: string) {
    await this.db.transaction(async (sql) => {
      const [device] = await sql.query(
        `update devices set status = 'unenrolled' where device_id = $1 and tenant_id = $2 and status = 'active' returning device_id`,
        [deviceId, tenantId],
      );
      if (!device) throw notFound('device');
      await this.store.append(
        deviceStreamId(deviceId),
        [{ type: 'DeviceUnenrolled', data: { deviceId, by: 'admin' } }],
        { expectedVersion: 'any', tenantId, actor },
        sql,
      );
    });
    return { deviceId, status: 'unenrolled' as const };
  }
}
