import { createPrivateKey, webcrypto } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import * as x509 from '@peculiar/x509';
import { Database } from '@mdm/platform/database';
import { DeviceCertificates, randomSerial } from './device-certificates';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const subtle = webcrypto.subtle;
type Keys = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'];

export interface IssuedCertificate {
  serial: string;
  notBefore: string;
  notAfter: string;
  pem: string;
}

/**
 * The CA that signs the devices' MDM identity certificates (R13). It is created on first start and
 * kept in the service's schema; replicas starting together agree on the first one written.
 * (Production would keep the key in a KMS or HSM; see README.)
 */
@Injectable()
export class MdmCertificateAuthority implements OnModuleInit {
  private caCertificate!: x509.X509Certificate;
  private devices!: DeviceCertificates;

  constructor(@Inject(Database) private readonly db: Database) {}

  async onModuleInit(): Promise<void> {
    let [row] = await this.load();
    if (!row) {
      const created = await this.create();
      await this.db.query(
        'insert into certificate_authority (certificate_pem, private_key_pkcs8) values ($1, $2) on conflict do nothing',
        [created.certificatePem, created.privateKey],
      );
      [row] = await this.load();
    }
    this.caCertificate = new x509.X509Certificate(row.certificate_pem);
    const caKey = createPrivateKey({ key: Buffer.from(row.private_key_pkcs8, 'base64'), format: 'der', type: 'pkcs8' });
    this.devices = new DeviceCertificates(this.caCertificate.rawData, caKey);
  }

  get certificatePem(): string {
    return this.caCertificate.toString('pem');
  }

  /** A certificate for the device, with a key pair of its own, valid from `now` for `days`. */
  issue(subject: { deviceId: string; tenantId: string }, now: Date, days: number): IssuedCertificate {
    const notAfter = new Date(now.getTime() + days * 86_400_000);
    const { serial, pem } = this.devices.issue(subject, now, notAfter);
    return { serial, notBefore: now.toISOString(), notAfter: notAfter.toISOString(), pem };
  }

  private load() {
    return this.db.query<{ certificate_pem: string; private_key_pkcs8: string }>(
      'select certificate_pem, private_key_pkcs8 from certificate_authority',
    );
  }

  private async create(): Promise<{ certificatePem: string; privateKey: string }> {
    const keys = await subtle.generateKey(algorithm, true, ['sign', 'verify']);
    const now = new Date();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial().toString('hex'),
      name: 'CN=MDM authority platform device CA',
      notBefore: now,
      notAfter: new Date(now.getTime() + 20 * 365 * 86_400_000),
      signingAlgorithm: algorithm,
      keys: keys as unknown as Keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ],
    });
    const pkcs8 = await subtle.exportKey('pkcs8', keys.privateKey);
    return { certificatePem: cert.toString('pem'), privateKey: Buffer.from(pkcs8).toString('base64') };
  }
}

