import { DomainError } from '@mdm/contracts/core';

/** What the CA looks at in a device's public key (node's `asymmetricKeyType` and details). */
export interface DeviceKeyDetails {
  type: string | undefined;
  namedCurve?: string;
  modulusLength?: number;
}

export const MIN_RSA_BITS = 2048;

/** 422 INVALID_CSR: the request does not parse, its signature fails, or its key is not one the CA certifies. */
export const invalidCsr = (reason: string): DomainError =>
  new DomainError('INVALID_CSR', `the certificate signing request is not usable: ${reason}`);

/**
 * R13: the keys a device may have certified: ECDSA P-256, or RSA of at least 2048 bits (API.md).
 * Anything else (other curves, short RSA, RSA-PSS-only or Edwards keys) is refused.
 */
export function checkDeviceKey(key: DeviceKeyDetails): void {
  if (key.type === 'ec' && key.namedCurve === 'prime256v1') return;
  if (key.type === 'rsa' && (key.modulusLength ?? 0) >= MIN_RSA_BITS) return;
  const what = key.type === 'ec' ? `an EC key on ${key.namedCurve}` : key.type === 'rsa' ? `a ${key.modulusLength}-bit RSA key` : `a ${key.type ?? 'unknown'} key`;
  throw invalidCsr(`${what}; the CA certifies P-256 or RSA of at least ${MIN_RSA_BITS} bits`);
}

/** 409 CSR_REQUIRED: a device that holds a key of its own renews with a CSR for it (R15). */
export const csrRequired = (): DomainError =>
  new DomainError('CSR_REQUIRED', 'this device holds its own key: its renewal needs a certificate signing request (csrPem)');

/**
 * R15: the key a renewed certificate is for. A CSR's, always. Without one: a device that made its
 * own key (enrolled with a CSR) must send one, as only it can prove a new key; a device whose key
 * the service made keeps today's automatic renewal, for the key it was given (`known`), or, if
 * none was kept (enrolled before keys were), a new one the service makes (`undefined`).
 */
export function keyToRenew<K>(csrKey: K | undefined, device: { publicKey: K | null; ownKey: boolean }): K | undefined {
  if (csrKey !== undefined) return csrKey;
  if (device.ownKey) throw csrRequired();
  return device.publicKey ?? undefined;
}
