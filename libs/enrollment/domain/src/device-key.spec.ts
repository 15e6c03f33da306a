import { DomainError } from '@mdm/contracts/core';
import { checkDeviceKey } from './device-key';

const refusal = (key: Parameters<typeof checkDeviceKey>[0]) => {
  try {
    checkDeviceKey(key);
    return null;
  } catch (err) {
    return err instanceof DomainError ? { status: err.status, code: err.code } : err;
  }
};

describe('checkDeviceKey (R13: the keys the CA certifies)', () => {
  it('R13: P-256 and RSA of 2048 bits or more are certified', () => {
    expect([refusal({ type: 'ec', namedCurve: 'prime256v1' }), refusal({ type: 'rsa', modulusLength: 2048 }), refusal({ type: 'rsa', modulusLength: 4096 })]).toEqual([
      null,
      null,
      null,
    ]);
  });

  it('R13: other curves, RSA under 2048 bits and other key types are 422 INVALID_CSR', () => {
    const invalid = { status: 422, code: 'INVALID_CSR' };
    expect([
      refusal({ type: 'ec', namedCurve: 'secp384r1' }),
      refusal({ type: 'rsa', modulusLength: 2047 }),
      refusal({ type: 'rsa', modulusLength: 1024 }),
      refusal({ type: 'rsa-pss', modulusLength: 2048 }),
      refusal({ type: 'ed25519' }),
      refusal({ type: undefined }),
    ]).toEqual([invalid, invalid, invalid, invalid, invalid, invalid]);
  });
});
