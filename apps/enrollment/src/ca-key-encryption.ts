import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The CA's private key at rest: AES-256-GCM under a key derived with scrypt from the configured
 * key-encryption key (KEK), so a database dump without the KEK holds no usable CA key, and a
 * tampered record fails to decrypt instead of yielding another key. A KEK may be a passphrase,
 * hence the memory-hard KDF (derived once, at start-up).
 */
const FORMAT = 'mdm-ca-key:v1';
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

interface Sealed {
  format: typeof FORMAT;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  iv: string;
  tag: string;
  ciphertext: string;
}

const derive = (kek: string, salt: Buffer, { N, r, p }: { N: number; r: number; p: number }) =>
  scryptSync(kek, salt, 32, { N, r, p, maxmem: SCRYPT.maxmem });

export function encryptCaKey(pkcs8: Buffer, kek: string): string {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', derive(kek, salt, SCRYPT), iv).setAAD(Buffer.from(FORMAT));
  const ciphertext = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
  const sealed: Sealed = {
    format: FORMAT,
    kdf: { name: 'scrypt', N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: salt.toString('base64') },
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64'),
  };
  return JSON.stringify(sealed);
}

export function decryptCaKey(sealedText: string, kek: string): Buffer {
  const sealed = JSON.parse(sealedText) as Sealed;
  if (sealed.format !== FORMAT || sealed.kdf?.name !== 'scrypt') throw new Error(`the CA key is sealed in an unknown format (${String(sealed.format)})`);
  const decipher = createDecipheriv('aes-256-gcm', derive(kek, Buffer.from(sealed.kdf.salt, 'base64'), sealed.kdf), Buffer.from(sealed.iv, 'base64'))
    .setAAD(Buffer.from(FORMAT))
    .setAuthTag(Buffer.from(sealed.tag, 'base64'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]);
  } catch {
    throw new Error('the CA key does not decrypt with the configured key-encryption key (MDM_CA_KEY_ENCRYPTION_KEY or _FILE)');
  }
}

/**
 * Outside production, with no KEK configured: a fixed, public one, so a development database's CA
 * survives restarts. It protects nothing, which start-up says.
 */
export const DEVELOPMENT_KEK = 'mdm-development-ca-key-encryption-key: not for production';
export const MIN_KEK_LENGTH = 16;

/** The KEK from the configuration: the variable or the file (trimmed), never both; required in production. */
export function keyEncryptionKey(config: {
  NODE_ENV: string;
  MDM_CA_KEY_ENCRYPTION_KEY?: string;
  MDM_CA_KEY_ENCRYPTION_KEY_FILE?: string;
}): { kek: string; development: boolean } {
  const { MDM_CA_KEY_ENCRYPTION_KEY: value, MDM_CA_KEY_ENCRYPTION_KEY_FILE: file } = config;
  if (value && file) throw new Error('set MDM_CA_KEY_ENCRYPTION_KEY or MDM_CA_KEY_ENCRYPTION_KEY_FILE, not both');
  const kek = file ? readFileSync(file, 'utf8').trim() : value;
  if (kek !== undefined && kek.length < MIN_KEK_LENGTH) throw new Error(`the CA key-encryption key needs at least ${MIN_KEK_LENGTH} characters`);
  if (kek) return { kek, development: false };
  if (config.NODE_ENV === 'production') throw new Error('MDM_CA_KEY_ENCRYPTION_KEY or MDM_CA_KEY_ENCRYPTION_KEY_FILE must be set in production');
  return { kek: DEVELOPMENT_KEK, development: true };
}
