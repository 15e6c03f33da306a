import { Inject, Injectable } from '@nestjs/common';
import { DomainError } from '@mdm/contracts/core';
import { ServiceRuntime } from '@mdm/platform/http';
import { callService } from '@mdm/platform/http-client';
import { AuthenticatedDevice } from '../device-auth';
import { DeviceSyncConfig } from '../device-sync.definition';

/**
 * R15: a new MDM certificate at a check-in in the renewal window. The enrollment service's CA signs
 * it (it alone holds the key); the renewal itself is device-sync's event, which enrollment consumes.
 */
@Injectable()
export class CertificateRenewal {
  private readonly enrollmentUrl: string;

  constructor(@Inject(ServiceRuntime) private readonly runtime: ServiceRuntime) {
    this.enrollmentUrl = (runtime.config as unknown as DeviceSyncConfig).ENROLLMENT_URL;
  }

  async renew(device: AuthenticatedDevice, now: Date): Promise<{ serial: string; notBefore: string; notAfter: string }> {
    const url = `${this.enrollmentUrl}/internal/tenants/${device.tenantId}/devices/${device.deviceId}/certificates`;
    const res = await callService(url, { method: 'POST', body: { notBefore: now.toISOString() }, signer: this.runtime.signer }).catch((err: Error) => {
      throw new DomainError(503, 'SERVICE_UNAVAILABLE', `the certificate authority is unreachable: ${err.message}`);
    });
    if (!res.ok) throw new DomainError(503, 'SERVICE_UNAVAILABLE', `the certificate authority answered ${res.status}`);
    return res.body as { serial: string; notBefore: string; notAfter: string };
  }
}
