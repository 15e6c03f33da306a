import { selfSignedCertificatePem } from '@mdm/platform/testing';
import { uploadApnsCertificate, initialTenant, TenantState } from './tenant';
import { parseApnsCertificate } from './apns-certificate';

const DAY = 86_400_000;
const now = new Date('2026-06-01T00:00:00.000Z');
const withPushConsent: TenantState = {
  ...initialTenant,
  exists: true,
  consents: { appleMdmPush: { grantedAt: now.toISOString(), grantedBy: 'token:1' } },
};

describe('APNs certificates (pure)', () => {
  it('R6: reads subject, hex serial and notAfter from a real certificate', async () => {
    const notAfter = new Date(now.getTime() + 200 * DAY);
    const pem = await selfSignedCertificatePem({ serialNumber: '01ab', subject: 'CN=APSP:x', notBefore: now, notAfter });
    expect(parseApnsCertificate(pem, now)).toEqual({
      serial: '01AB',
      subject: 'CN=APSP:x',
      notBefore: now.toISOString(),
      notAfter: notAfter.toISOString(),
    });
  });

  it('R6: an expired certificate is INVALID_CERTIFICATE', async () => {
    const pem = await selfSignedCertificatePem({ notBefore: new Date(now.getTime() - 20 * DAY), notAfter: new Date(now.getTime() - DAY) });
    expect(() => parseApnsCertificate(pem, now)).toThrow(expect.objectContaining({ code: 'INVALID_CERTIFICATE' }));
  });

  it('R5: without the appleMdmPush consent the upload is refused before the certificate is even read', () => {
    expect(() => uploadApnsCertificate({ ...initialTenant, exists: true }, { authority: 'intune', certificatePem: 'garbage', now })).toThrow(
      expect.objectContaining({ code: 'CONSENT_REQUIRED' }),
    );
  });

  it('R6: the same certificate uploaded again emits nothing; each authority keeps its own', async () => {
    const pem = await selfSignedCertificatePem({ notBefore: now, notAfter: new Date(now.getTime() + DAY) });
    const [event] = uploadApnsCertificate(withPushConsent, { authority: 'office365', certificatePem: pem, now });
    expect(event).toMatchObject({ type: 'ApnsCertificateUploaded', data: { authority: 'office365' } });
    const { authority: _, ...certificate } = event.data as { authority: string };
    const state = { ...withPushConsent, apnsCertificates: { office365: certificate as never } };
    expect(uploadApnsCertificate(state, { authority: 'office365', certificatePem: pem, now })).toEqual([]);
    expect(uploadApnsCertificate(state, { authority: 'intune', certificatePem: pem, now })).toHaveLength(1);
  });
});
