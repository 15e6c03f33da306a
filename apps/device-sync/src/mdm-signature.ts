import { X509Certificate } from 'node:crypto';
import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { DomainError } from '@mdm/contracts/core';
import { pkijs } from '@mdm/platform/crypto/cms';
import { CLOCK, Headers, RawBodyRequest, SERVICE_CONFIG } from '@mdm/platform/http';
import { CallSigner, callService } from '@mdm/platform/http-client';
import { Clock } from '@mdm/platform/clock';
import { AuthenticatedDevice, DeviceAuth } from './device-auth';
import { DeviceSyncConfig } from './device-sync.definition';

/** DER of EncapsulatedContentInfo { id-data, [0] OCTET STRING '' }: the content of a bodiless call (the long poll). */
const EMPTY_CONTENT = () => pkijs.EncapsulatedContentInfo.fromBER(new Uint8Array(Buffer.from('300f06092a864886f70d010701a0020400', 'hex')).buffer);

const badSignature = (why: string) => new DomainError('UNAUTHORIZED', `Mdm-Signature: ${why}`);

/**
 * A device's signed call (API.md, as Apple's MDM protocol): `Mdm-Signature` is a detached CMS
 * SignedData over the body's bytes, made with the key of the device's MDM certificate, which the
 * CMS carries. When the header is there it must hold: the signature verifies (pkijs) with a
 * certificate that chains to the CA (its signature and issuer), is valid now, and names this device
 * (CN=device id, O=tenant id), which only this device's certificates do, the current one and
 * earlier ones until their notAfter alike. Anything else is 401, before the call does anything.
 * It guards every device call: the long poll has no body, and its signature is one of the empty
 * body (README, "Mdm-Signature").
 */
@Injectable()
export class MdmSignatureGuard implements CanActivate {
  private ca: Promise<X509Certificate> | undefined;
  private readonly enrollmentUrl: string;

  constructor(
    private readonly auth: DeviceAuth,
    @Inject(SERVICE_CONFIG) config: DeviceSyncConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly callSigner: CallSigner,
  ) {
    this.enrollmentUrl = config.ENROLLMENT_URL;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<Request & RawBodyRequest>();
    const signature = req.header(Headers.mdmSignature);
    if (signature === undefined) return true;
    const device = await this.auth.authenticate(req);
    await this.verify(signature, req.rawBody ?? Buffer.alloc(0), device);
    return true;
  }

  async verify(signature: string, body: Buffer, device: AuthenticatedDevice): Promise<void> {
    const signer = await this.signer(signature, body);
    const ca = await this.caCertificate();
    if (!signer.checkIssued(ca) || !signer.verify(ca.publicKey)) throw badSignature('the certificate was not issued by the device CA');
    const now = this.clock.now().getTime();
    if (now < Date.parse(signer.validFrom) || now > Date.parse(signer.validTo)) throw badSignature('the certificate is not valid now');
    if (signer.subject !== `CN=${device.deviceId}\nO=${device.tenantId}\nOU=MDM device`) throw badSignature('the certificate is not this device\'s');
  }

  /** The certificate whose key made a valid signature of `body`, or a 401. */
  private async signer(signature: string, body: Buffer): Promise<X509Certificate> {
    let result: pkijs.SignedDataVerifyResult;
    try {
      const cms = pkijs.ContentInfo.fromBER(new Uint8Array(Buffer.from(signature, 'base64')).buffer);
      if (cms.contentType !== pkijs.ContentInfo.SIGNED_DATA) throw new Error('not SignedData');
      const signed = new pkijs.SignedData({ schema: cms.content });
      if (signed.signerInfos.length !== 1) throw new Error('not one signer');
      // pkijs checks content the CMS carries instead of `data`: a signature of another body, attached, would pass.
      if (signed.encapContentInfo.eContent) throw new Error('not detached');
      // pkijs checks no empty detached content; the same SignedData with that content attached is the same check.
      if (body.byteLength === 0) signed.encapContentInfo = EMPTY_CONTENT();
      result = await signed.verify({ signer: 0, data: new Uint8Array(body).buffer, checkChain: false, extendedMode: true });
    } catch {
      throw badSignature('not a detached CMS signature of the body by a certificate it carries');
    }
    if (!result.signatureVerified || !result.signerCertificate) throw badSignature('the signature does not verify');
    return new X509Certificate(Buffer.from(result.signerCertificate.toSchema().toBER(false)));
  }

  /** Asked once of the enrollment service; a failure is that call's 503 and the next call asks again. */
  private caCertificate(): Promise<X509Certificate> {
    this.ca ??= callService(`${this.enrollmentUrl}/internal/ca-certificate`, { signer: this.callSigner }).then((res) => {
      if (!res.ok) throw new Error(`answered ${res.status}`);
      return new X509Certificate((res.body as { pem: string }).pem);
    });
    return this.ca.catch((err: Error) => {
      this.ca = undefined;
      throw new DomainError('SERVICE_UNAVAILABLE', `the device CA certificate is unavailable: ${err.message}`);
    });
  }
}
