import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { z } from 'zod';
import { notFound } from '@mdm/contracts/core';
import { deviceParams } from '@mdm/contracts/enrollment';
import { Database } from '@mdm/platform/database';
import { CalledBy, PathPipe, ServiceRuntime, ZodPipe } from '@mdm/platform/http';
import { EnrollmentConfig } from './enrollment.definition';
import { MdmCertificateAuthority } from './mdm-certificate-authority';

const renewalBody = z.object({ notBefore: z.string().datetime() }).strict();

/**
 * For device-sync only (R15): signs a renewed MDM certificate for an active device. It changes
 * nothing here; the renewal is device-sync's MdmCertificateRenewed event, which this service consumes.
 */
@Controller('internal/tenants/:tenantId/devices/:deviceId/certificates')
export class CertificatesController {
  constructor(
    @Inject(ServiceRuntime) private readonly runtime: ServiceRuntime,
    @Inject(Database) private readonly db: Database,
    @Inject(MdmCertificateAuthority) private readonly ca: MdmCertificateAuthority,
  ) {}

  @Post()
  @CalledBy('device-sync')
  @HttpCode(201)
  async issue(
    @Param(new PathPipe(deviceParams)) { tenantId, deviceId }: z.infer<typeof deviceParams>,
    @Body(new ZodPipe(renewalBody)) { notBefore }: z.infer<typeof renewalBody>,
  ) {
    const active = await this.db.query(`select 1 from devices where device_id = $1 and tenant_id = $2 and status = 'active'`, [deviceId, tenantId]);
    if (active.length === 0) throw notFound('device');
    const days = (this.runtime.config as unknown as EnrollmentConfig).MDM_CERTIFICATE_DAYS;
    const { serial, notAfter } = this.ca.issue({ deviceId, tenantId }, new Date(notBefore), days);
    return { serial, notBefore, notAfter };
  }
}
