import { X509Certificate } from 'node:crypto';
import { ruleViolation } from '@mdm/contracts/core';

export interface ApnsCertificate {
  serial: string;
  subject: string;
  notBefore: string;
  notAfter: string;
}

/** R6: parses a PEM certificate for real; unparsable or expired is INVALID_CERTIFICATE. */
export function parseApnsCertificate(pem: string, now: Date): ApnsCertificate {
  let cert: X509Certificate;
  try {
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('not a PEM certificate');
    cert = new X509Certificate(pem);
  } catch (err) {
    throw ruleViolation('INVALID_CERTIFICATE', `the certificate does not parse: ${(err as Error).message}`);
  }
  const notAfter = new Date(cert.validTo);
  const notBefore = new Date(cert.validFrom);
  if (Number.isNaN(notAfter.getTime()) || notAfter <= now) {
    throw ruleViolation('INVALID_CERTIFICATE', `the certificate expired at ${notAfter.toISOString()}`, {
      notAfter: notAfter.toISOString(),
    });
  }
  return {
    serial: cert.serialNumber.toUpperCase(),
    subject: cert.subject.split('\n').join(', '),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
  };
}
