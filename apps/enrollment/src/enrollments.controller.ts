import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { z } from 'zod';
import { tenantParams, tenantStreamId } from '@mdm/contracts/authority';
import { notFound } from '@mdm/contracts/core';
import { EnrollBody, deviceParams, deviceStreamId, enrollBody } from '@mdm/contracts/enrollment';
import { userStreamId } from '@mdm/contracts/licensing';
import { alreadyEnrolled, checkPrerequisites } from '@mdm/enrollment/domain';
import { Database, PgErrorCode, pgErrorCode } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { Actor, PathPipe, ServiceRuntime, ZodPipe } from '@mdm/platform/http';
import { ReadYourWrites } from '@mdm/platform/inbox';
import { EnrollmentConfig } from './enrollment.definition';
import { Facts } from './facts';
import { MdmCertificateAuthority } from './mdm-certificate-authority';

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');

@Controller('api/v1/tenants/:tenantId')
export class EnrollmentsController {
  private readonly config: EnrollmentConfig;

  constructor(
    @Inject(ServiceRuntime) private readonly runtime: ServiceRuntime,
    @Inject(Database) private readonly db: Database,
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(Facts) private readonly facts: Facts,
    @Inject(ReadYourWrites) private readonly readYourWrites: ReadYourWrites,
    @Inject(MdmCertificateAuthority) private readonly ca: MdmCertificateAuthority,
  ) {
    this.config = runtime.config as unknown as EnrollmentConfig;
  }

  /** R11–R13 */
  @Post('enrollments')
  @HttpCode(201)
  async enroll(
    @Param(new PathPipe(tenantParams)) { tenantId }: z.infer<typeof tenantParams>,
    @Body(new ZodPipe(enrollBody)) body: EnrollBody,
    @Actor() actor: string,
  ) {
    // Read-your-writes: what the admin just did to the authority or to this user's licenses counts.
    await this.readYourWrites.catchUpAll(tenantId, [
      { ownerUrl: this.config.AUTHORITY_URL, prefixes: [tenantStreamId(tenantId)] },
      ...(body.userId ? [{ ownerUrl: this.config.LICENSING_URL, prefixes: [userStreamId(body.userId)] }] : []),
    ]);
    const { tenant, user, serialActive } = await this.facts.forEnrollment(tenantId, body.userId ?? null, body.serialNumber);
    if (!tenant) throw notFound('tenant');
    const now = this.runtime.clock.now();
    const managedBy = checkPrerequisites(tenant, user, body, now);
    if (serialActive) throw alreadyEnrolled(body.serialNumber);

    const deviceId = randomUUID();
    const deviceCredential = `dc_${randomBytes(32).toString('base64url')}`;
    const credentialHash = hash(deviceCredential);
    const certificate = await this.ca.issue({ deviceId, tenantId }, now, this.config.MDM_CERTIFICATE_DAYS);
    try {
      await this.db.transaction(async (sql) => {
        // The partial unique index makes the same serial enrolled twice at once one winner.
        await sql.query(
          `insert into devices (device_id, tenant_id, serial_number, platform, user_id, status, certificate_not_after, credential_hash, enrolled_at)
           values ($1, $2, $3, $4, $5, 'active', $6, $7, $8)`,
          [deviceId, tenantId, body.serialNumber, body.platform, body.userId ?? null, certificate.notAfter, credentialHash, now],
        );
        await this.store.append(
          deviceStreamId(deviceId),
          [
            {
              type: 'DeviceEnrolled',
              data: {
                deviceId,
                serialNumber: body.serialNumber,
                platform: body.platform,
                enrollmentType: body.enrollmentType,
                userId: body.userId ?? null,
                deviceName: body.deviceName ?? null,
                osVersion: body.osVersion,
                androidWorkProfile: body.androidWorkProfile ?? false,
                managedBy,
                mdmCertificate: { serial: certificate.serial, notBefore: certificate.notBefore, notAfter: certificate.notAfter },
                credentialHash,
              },
            },
          ],
          { expectedVersion: 0, tenantId, actor },
          sql,
        );
      });
    } catch (err) {
      if (pgErrorCode(err) === PgErrorCode.uniqueViolation) throw alreadyEnrolled(body.serialNumber);
      throw err;
    }
    return {
      deviceId,
      deviceCredential,
      managedBy,
      mdmCertificate: { serial: certificate.serial, notAfter: certificate.notAfter, certificatePem: certificate.pem },
    };
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
