import { X509Certificate, createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { Database } from '@mdm/platform/database';
import { createLogger } from '@mdm/platform/logging';
import { selfSignedCertificatePem, testDatabase } from '@mdm/platform/testing';
import { EnrollmentConfig, enrollmentService } from './enrollment.definition';
import { MdmCertificateAuthority } from './mdm-certificate-authority';

/** The CA with the configuration a service would give it: its KEK and environment. */
const authority = (db: Database, config: Record<string, string | undefined>) =>
  new MdmCertificateAuthority(db, { NODE_ENV: 'test', ...config } as Partial<EnrollmentConfig> as EnrollmentConfig, createLogger('enrollment', 'silent'));

describe('the CA key at rest (issue 14)', () => {
  let db: Database;
  beforeEach(async () => {
    db = await testDatabase('enrca', enrollmentService.migrations);
  });
  afterEach(() => db?.close());

  it('a CA created under a KEK is sealed, and a restart with the same KEK signs with the same CA; another KEK cannot start it', async () => {
    const kek = `kek-${randomUUID()}`;
    const first = authority(db, { MDM_CA_KEY_ENCRYPTION_KEY: kek });
    await first.onModuleInit();
    const [row] = await db.query<{ private_key_pkcs8: string | null; private_key_encrypted: string }>('select * from certificate_authority');
    expect(row.private_key_pkcs8).toBeNull();
    expect(JSON.parse(row.private_key_encrypted).format).toBe('mdm-ca-key:v1');

    const again = authority(db, { MDM_CA_KEY_ENCRYPTION_KEY: kek });
    await again.onModuleInit();
    const publicKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' });
    const issued = again.issue({ deviceId: randomUUID(), tenantId: randomUUID() }, publicKey, new Date(), 30);
    expect(new X509Certificate(issued.pem).verify(new X509Certificate(first.certificatePem).publicKey)).toBe(true);

    await expect(authority(db, { MDM_CA_KEY_ENCRYPTION_KEY: `${kek}-other` }).onModuleInit()).rejects.toThrow('does not decrypt');
  });

  it('migration: a CA key an earlier version kept in the clear is sealed at start-up and keeps signing for the same CA', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const plain = privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
    const certificatePem = await selfSignedCertificatePem({ subject: 'CN=old CA', notBefore: new Date(), notAfter: new Date(Date.now() + 1e11) });
    await db.query('insert into certificate_authority (certificate_pem, private_key_pkcs8) values ($1, $2)', [certificatePem, plain]);

    const ca = authority(db, { MDM_CA_KEY_ENCRYPTION_KEY: 'a key-encryption key of some length' });
    await ca.onModuleInit();
    const rows = await db.query<{ private_key_pkcs8: string | null; private_key_encrypted: string }>('select * from certificate_authority');
    expect(rows).toHaveLength(1);
    expect(rows[0].private_key_pkcs8).toBeNull();
    expect(rows[0].private_key_encrypted).not.toContain(plain);
    const publicKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' });
    const issued = new X509Certificate(ca.issue({ deviceId: randomUUID(), tenantId: randomUUID() }, publicKey, new Date(), 30).pem);
    expect(issued.issuer).toBe('CN=old CA');
    // Signed by the very key that was kept in the clear, now sealed.
    expect(issued.verify(createPublicKey(privateKey))).toBe(true);
  });

  it('production refuses to start without a KEK', async () => {
    await expect(authority(db, { NODE_ENV: 'production' }).onModuleInit()).rejects.toThrow('must be set in production');
    expect(await db.query('select 1 from certificate_authority')).toHaveLength(0);
  });
});
