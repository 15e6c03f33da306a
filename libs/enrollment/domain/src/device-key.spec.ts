import { ERROR_STATUS, DomainError } from '@mdm/contracts/core';
import { checkDeviceKey, keyToRenew } from './device-key';

const refusal = (key: Parameters<typeof checkDeviceKey>[0]) => {
  try {
    checkDeviceKey(key);
    return null;
  } catch (err) {
    return err instanceof DomainError ? { status: ERROR_STATUS[err.code], code: err.code } : err;
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

describe('keyToRenew (R15: the key a renewal certifies)', () => {
  const code = (f: () => unknown) => {
    try {
      return f();
    } catch (err) {
      return err instanceof DomainError ? `${ERROR_STATUS[err.code]} ${err.code}` : err;
    }
  };

  it('R15: a CSR\'s key always; without one the key the service gave the device, or a new one for a device enrolled before keys were kept', () => {
    expect(keyToRenew('csr', { publicKey: 'known', ownKey: true })).toBe('csr');
    expect(keyToRenew('csr', { publicKey: 'known', ownKey: false })).toBe('csr');
    expect(keyToRenew(undefined, { publicKey: 'known', ownKey: false })).toBe('known');
    expect(keyToRenew(undefined, { publicKey: null, ownKey: false })).toBeUndefined();
  });

  it('R15: a device with a key of its own renews only with a CSR: 409 CSR_REQUIRED', () => {
    expect(code(() => keyToRenew(undefined, { publicKey: 'known', ownKey: true }))).toBe('409 CSR_REQUIRED');
  });
});
