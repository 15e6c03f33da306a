import { Inject, Injectable } from '@nestjs/common';
import { DomainError } from '@mdm/contracts/core';
import { inRenewalWindow } from '@mdm/device-sync/domain';
import { SERVICE_CONFIG } from '@mdm/platform/http';
import { CallSigner } from '@mdm/platform/http-client';
import { callService } from '@mdm/platform/http-client';
import { AuthenticatedDevice } from '../device-auth';
import { DeviceSyncConfig } from '../device-sync.definition';

/** The device's MDM certificate as a check-in leaves it (R15). */
export interface CertificateAtCheckIn {
  serial: string;
  notAfter: string;
  /** Set when this check-in renewed it: the new certificate's start. */
  notBefore: string | null;
  /** In its renewal window and not renewed: the device should send a CSR with its next check-in. */
  renewalDue: boolean;
  /** The renewed certificate, when this check-in renewed it. */
  pem?: string;
}

/**
 * R15: a new MDM certificate at a check-in in the renewal window. The enrollment service's CA signs
 * it (it alone holds the key), for the key of the CSR the device sent, or, without one, as the
 * enrollment service decides: a device with a key of its own is told `renewalDue` and keeps its
 * certificate (409 CSR_REQUIRED), one whose key the service made is renewed for that key. The
 * renewal itself is device-sync's event, which enrollment consumes. A CSR outside the window is ignored.
 */
@Injectable()
export class CertificateRenewal {
  private readonly enrollmentUrl: string;

  constructor(
    @Inject(SERVICE_CONFIG) config: DeviceSyncConfig,
    private readonly signer: CallSigner,
  ) {
    this.enrollmentUrl = config.ENROLLMENT_URL;
  }

  async atCheckIn(device: AuthenticatedDevice, current: { serial: string; notAfter: Date }, now: Date, csrPem: string | undefined): Promise<CertificateAtCheckIn> {
    const kept = { serial: current.serial, notAfter: current.notAfter.toISOString(), notBefore: null };
    if (!inRenewalWindow(current.notAfter, now)) return { ...kept, renewalDue: false };
    const url = `${this.enrollmentUrl}/internal/tenants/${device.tenantId}/devices/${device.deviceId}/certificates`;
    const res = await callService(url, { method: 'POST', body: { notBefore: now.toISOString(), ...(csrPem !== undefined && { csrPem }) }, signer: this.signer }).catch((err: Error) => {
      throw new DomainError('SERVICE_UNAVAILABLE', `the certificate authority is unreachable: ${err.message}`);
    });
    const answer = res.body as { serial: string; notBefore: string; notAfter: string; pem: string; code?: string; message?: string };
    if (res.status === 409 && answer.code === 'CSR_REQUIRED') return { ...kept, renewalDue: true };
    if (res.status === 422 && answer.code === 'INVALID_CSR') throw new DomainError('INVALID_CSR', answer.message ?? 'the certificate signing request is not usable');
    if (!res.ok) throw new DomainError('SERVICE_UNAVAILABLE', `the certificate authority answered ${res.status}`);
    return { serial: answer.serial, notAfter: answer.notAfter, notBefore: answer.notBefore, renewalDue: false, pem: answer.pem };
  }
}
