import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEVELOPMENT_KEK, decryptCaKey, encryptCaKey, keyEncryptionKey } from './ca-key-encryption';

describe('the CA key at rest (issue 14: encrypted with a key-encryption key)', () => {
  const pkcs8 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'der' });
  const kek = 'correct horse battery staple';

  it('a sealed key holds none of the key\'s bytes and opens with its KEK alone', () => {
    const sealed = encryptCaKey(pkcs8, kek);
    expect(sealed).not.toContain(pkcs8.toString('base64'));
    expect(sealed).not.toContain(kek);
    expect(decryptCaKey(sealed, kek)).toEqual(pkcs8);
    expect(() => decryptCaKey(sealed, `${kek}!`)).toThrow('the CA key does not decrypt with the configured key-encryption key');
  });

  it('a tampered record does not decrypt', () => {
    const sealed = JSON.parse(encryptCaKey(pkcs8, kek));
    const ciphertext = Buffer.from(sealed.ciphertext, 'base64');
    ciphertext[0] ^= 1;
    expect(() => decryptCaKey(JSON.stringify({ ...sealed, ciphertext: ciphertext.toString('base64') }), kek)).toThrow('does not decrypt');
  });

  it('the KEK comes from the variable or a file; production requires one; elsewhere the development default', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'kek-')), 'kek');
    writeFileSync(file, `${kek}\n`);
    expect(keyEncryptionKey({ NODE_ENV: 'production', MDM_CA_KEY_ENCRYPTION_KEY: kek })).toEqual({ kek, development: false });
    expect(keyEncryptionKey({ NODE_ENV: 'production', MDM_CA_KEY_ENCRYPTION_KEY_FILE: file })).toEqual({ kek, development: false });
    expect(keyEncryptionKey({ NODE_ENV: 'development' })).toEqual({ kek: DEVELOPMENT_KEK, development: true });
    expect(() => keyEncryptionKey({ NODE_ENV: 'production' })).toThrow('must be set in production');
    expect(() => keyEncryptionKey({ NODE_ENV: 'development', MDM_CA_KEY_ENCRYPTION_KEY: 'short' })).toThrow('at least 16 characters');
    expect(() => keyEncryptionKey({ NODE_ENV: 'development', MDM_CA_KEY_ENCRYPTION_KEY: kek, MDM_CA_KEY_ENCRYPTION_KEY_FILE: file })).toThrow('not both');
  });
});
