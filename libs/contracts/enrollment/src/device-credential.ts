import { randomBytes } from 'node:crypto';

/**
 * A device credential (R13): `dc_<tenantId>.<deviceId>.<secret>`. The ids are not secret; they tell
 * device-sync which tenant and device to catch up on before it answers a device enrolled a moment
 * ago, and let it refuse a made-up credential without waiting for anything. Only the secret makes
 * it valid: the whole credential is stored as a hash, nowhere in clear. Credentials issued before
 * the ids were added (`dc_<secret>`) keep working; they carry no lookup.
 */
export interface CredentialLookup {
  tenantId: string;
  deviceId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function newDeviceCredential({ tenantId, deviceId }: CredentialLookup): string {
  return `dc_${tenantId}.${deviceId}.${randomBytes(32).toString('base64url')}`;
}

/** The ids a credential names, or undefined for one without them (or not of our making). */
export function credentialLookup(credential: string): CredentialLookup | undefined {
  if (!credential.startsWith('dc_')) return undefined;
  const [tenantId, deviceId, secret, ...rest] = credential.slice(3).split('.');
  if (rest.length > 0 || !secret || !UUID.test(tenantId) || !UUID.test(deviceId)) return undefined;
  return { tenantId, deviceId };
}
