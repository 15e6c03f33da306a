import { createPrivateKey, webcrypto } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { x509 } from '@mdm/platform/crypto/x509';
import { Database } from '@mdm/platform/database';
import { LOGGER, SERVICE_CONFIG } from '@mdm/platform/http';
import { Logger } from '@mdm/platform/logging';
import { decryptCaKey, encryptCaKey, keyEncryptionKey } from './ca-key-encryption';
import { DeviceCertificates, randomSerial } from './device-certificates';
import { EnrollmentConfig } from './enrollment.definition';

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const subtle = webcrypto.subtle;

export interface IssuedCertificate {
  serial: string;
  notBefore: string;
  notAfter: string;
  pem: string;
  der: Buffer;
}

/**
 * The CA that signs the devices' MDM identity certificates (R13). It is created on first start and
 * kept in the service's schema, its key encrypted (ca-key-encryption.ts); replicas starting together
 * agree on the first one written. (Production would rather keep the key in a KMS or HSM; see README.)
 */
@Injectable()
export class MdmCertificateAuthority implements OnModuleInit {
  private caCertificate!: x509.X509Certificate;
  private devices!: DeviceCertificates;

  constructor(
    private readonly db: Database,
    @Inject(SERVICE_CONFIG) private readonly config: EnrollmentConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Loads the CA, or creates it, with its key sealed under the key-encryption key. A key kept in the
   * clear by an earlier version is sealed here, once (the first replica to do it wins).
   */
  async onModuleInit(): Promise<void> {
    const { kek, development } = keyEncryptionKey(this.config);
    if (development) {
      this.logger.warn('MDM_CA_KEY_ENCRYPTION_KEY unset: the CA key is sealed with the public development key-encryption key');
    }
    let [row] = await this.load();
    /** The key this replica just made and sealed, when its CA is the one kept: no need to unseal it again (scrypt is slow on purpose). */
    let made: Buffer | undefined;
    if (!row) {
      const created = await this.create();
      const kept = await this.db.query(
        'insert into certificate_authority (certificate_pem, private_key_encrypted) values ($1, $2) on conflict do nothing returning 1',
        [created.certificatePem, encryptCaKey(created.privateKey, kek)],
      );
      if (kept.length > 0) made = created.privateKey;
      [row] = await this.load();
    }
    if (row.private_key_pkcs8 !== null) {
      await this.db.query('update certificate_authority set private_key_encrypted = $1, private_key_pkcs8 = null where private_key_pkcs8 is not null', [
        encryptCaKey(Buffer.from(row.private_key_pkcs8, 'base64'), kek),
      ]);
      this.logger.info('sealed the CA key kept in the clear with the key-encryption key');
      [row] = await this.load();
    }
    this.caCertificate = new x509.X509Certificate(row.certificate_pem);
    const caKey = createPrivateKey({ key: made ?? decryptCaKey(row.private_key_encrypted!, kek), format: 'der', type: 'pkcs8' });
    this.devices = new DeviceCertificates(this.caCertificate.rawData, caKey);
  }

  get certificatePem(): string {
    return this.caCertificate.toString('pem');
  }

  get certificateDer(): Buffer {
    return Buffer.from(this.caCertificate.rawData);
  }

  /** A certificate for the device's public key (SubjectPublicKeyInfo DER), valid from `now` for `days`. */
  issue(subject: { deviceId: string; tenantId: string }, publicKey: Buffer, now: Date, days: number): IssuedCertificate {
    const notAfter = new Date(now.getTime() + days * 86_400_000);
    const { serial, pem, der } = this.devices.issue(subject, publicKey, now, notAfter);
    return { serial, notBefore: now.toISOString(), notAfter: notAfter.toISOString(), pem, der };
  }

  private load() {
    return this.db.query<{ certificate_pem: string; private_key_pkcs8: string | null; private_key_encrypted: string | null }>(
      'select certificate_pem, private_key_pkcs8, private_key_encrypted from certificate_authority',
    );
  }

  private async create(): Promise<{ certificatePem: string; privateKey: Buffer }> {
    const keys = await subtle.generateKey(algorithm, true, ['sign', 'verify']);
    const now = new Date();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial().toString('hex'),
      name: 'CN=MDM authority platform device CA',
      notBefore: now,
      notAfter: new Date(now.getTime() + 20 * 365 * 86_400_000),
      signingAlgorithm: algorithm,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    const pkcs8 = await subtle.exportKey('pkcs8', keys.privateKey);
    return { certificatePem: cert.toString('pem'), privateKey: Buffer.from(pkcs8) };
  }
}

