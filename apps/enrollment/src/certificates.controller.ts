import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { z } from 'zod';
import { notFound } from '@mdm/contracts/core';
import { csrPem, deviceParams } from '@mdm/contracts/enrollment';
import { keyToRenew } from '@mdm/enrollment/domain';
import { Database } from '@mdm/platform/database';
import { CalledBy, PathPipe, SERVICE_CONFIG, ZodPipe } from '@mdm/platform/http';
import { csrPublicKey, newDeviceKey } from './device-keys';
import { EnrollmentConfig } from './enrollment.definition';
import { MdmCertificateAuthority } from './mdm-certificate-authority';

const renewalBody = z.object({ notBefore: z.string().datetime(), csrPem: csrPem.optional() }).strict();

/**
 * For device-sync only (R15): signs a renewed MDM certificate for an active device, for the key of
 * the CSR the device sent with its check-in (422 INVALID_CSR), else as keyToRenew decides (409
 * CSR_REQUIRED for a device with a key of its own). The renewal itself is device-sync's
 * MdmCertificateRenewed event, which this service consumes; here only a CSR's key is recorded, as
 * the key the device now proved it holds.
 */
@Controller('internal/tenants/:tenantId/devices/:deviceId/certificates')
export class CertificatesController {
  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: EnrollmentConfig,
    private readonly db: Database,
    private readonly ca: MdmCertificateAuthority,
  ) {}

  @Post()
  @CalledBy('device-sync')
  @HttpCode(201)
  async issue(
    @Param(new PathPipe(deviceParams)) { tenantId, deviceId }: z.infer<typeof deviceParams>,
    @Body(new ZodPipe(renewalBody)) body: z.infer<typeof renewalBody>,
  ) {
    const requested = body.csrPem === undefined ? undefined : await csrPublicKey(body.csrPem);
    const [device] = await this.db.query<{ public_key: Buffer | null; own_key: boolean }>(
      `select public_key, own_key from devices where device_id = $1 and tenant_id = $2 and status = 'active'`,
      [deviceId, tenantId],
    );
    if (!device) throw notFound('device');
    const publicKey = keyToRenew(requested, { publicKey: device.public_key, ownKey: device.own_key }) ?? newDeviceKey().publicKey;
    if (requested) await this.db.query('update devices set public_key = $2, own_key = true where device_id = $1', [deviceId, requested]);
    const days = this.config.MDM_CERTIFICATE_DAYS;
    const { serial, notAfter, pem } = this.ca.issue({ deviceId, tenantId }, publicKey, new Date(body.notBefore), days);
    return { serial, notBefore: body.notBefore, notAfter, pem };
  }
}

/**
 * For device-sync only: the CA certificate that device certificates chain to, to verify a device's
 * Mdm-Signature. One CA signs for every tenant (a certificate names its tenant in O) and it never
 * changes while the service runs, so device-sync asks once.
 */
@Controller('internal/ca-certificate')
export class CaCertificateController {
  constructor(private readonly ca: MdmCertificateAuthority) {}

  @Get()
  @CalledBy('device-sync')
  certificate() {
    return { pem: this.ca.certificatePem };
  }
}
