import { KeyObject, createECDH, createPrivateKey, randomBytes, sign, webcrypto } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1 from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { Database } from '@mdm/platform/database';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const subtle = webcrypto.subtle;
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID = { commonName: '2.5.4.3', organization: '2.5.4.10', organizationalUnit: '2.5.4.11' };

/** A name of one attribute per RDN, in the order given. */
function name(attributes: [string, string][]): asn1.Name {
  return new asn1.Name(
    attributes.map(
      ([type, value]) =>
        new asn1.RelativeDistinguishedName([new asn1.AttributeTypeAndValue({ type, value: new asn1.AttributeValue({ utf8String: value }) })]),
    ),
  );
}
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
  private caKey!: KeyObject;
  /** What every device certificate shares, built once: the issuer, the signature algorithm, the extensions. */
  private issuer!: asn1.Name;
  /** id-ecPublicKey on P-256: the CA's own key is one, like every device's. */
  private keyAlgorithm!: asn1.AlgorithmIdentifier;
  private readonly signatureAlgorithm = new asn1.AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 });
  private readonly extensions = new asn1.Extensions(
    [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ].map((e) => AsnConvert.parse(e.rawData, asn1.Extension)),
  );

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
    const { subject, subjectPublicKeyInfo } = AsnConvert.parse(this.caCertificate.rawData, asn1.Certificate).tbsCertificate;
    this.issuer = subject;
    this.keyAlgorithm = subjectPublicKeyInfo.algorithm;
    this.caKey = createPrivateKey({ key: Buffer.from(row.private_key_pkcs8, 'base64'), format: 'der', type: 'pkcs8' });
  }

  get certificatePem(): string {
    return this.caCertificate.toString('pem');
  }

  /**
   * A certificate for the device, with a key pair of its own, valid from `now` for `days`. Built
   * from @peculiar/asn1-x509's schema (what @peculiar/x509 builds on) and signed with node:crypto:
   * the higher-level generator re-parses every name and the certificate it has just made, which
   * cost more than the rest of an enrollment.
   */
  issue(subject: { deviceId: string; tenantId: string }, now: Date, days: number): IssuedCertificate {
    // A P-256 key pair whose public point comes out raw (node's ECDH API makes the same keys, and
    // an SPKI export costs more than the key itself).
    const publicPoint = createECDH('prime256v1').generateKeys();
    const notAfter = new Date(now.getTime() + days * 86_400_000);
    const serial = randomSerial();
    const tbsCertificate = new asn1.TBSCertificate({
      version: asn1.Version.v3,
      serialNumber: new Uint8Array(Buffer.from(serial, 'hex')).buffer,
      signature: this.signatureAlgorithm,
      issuer: this.issuer,
      validity: new asn1.Validity({ notBefore: now, notAfter }),
      subject: name([
        [OID.commonName, subject.deviceId],
        [OID.organization, subject.tenantId],
        [OID.organizationalUnit, 'MDM device'],
      ]),
      subjectPublicKeyInfo: new asn1.SubjectPublicKeyInfo({ algorithm: this.keyAlgorithm, subjectPublicKey: new Uint8Array(publicPoint).buffer }),
      extensions: this.extensions,
    });
    const signature = sign('sha256', Buffer.from(AsnConvert.serialize(tbsCertificate)), { key: this.caKey, dsaEncoding: 'der' });
    const certificate = new asn1.Certificate({
      tbsCertificate,
      signatureAlgorithm: this.signatureAlgorithm,
      signatureValue: new Uint8Array(signature).buffer,
    });
    const pem = x509.PemConverter.encode(AsnConvert.serialize(certificate), 'CERTIFICATE');
    return { serial: serial.toUpperCase(), notBefore: now.toISOString(), notAfter: notAfter.toISOString(), pem };
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
      serialNumber: randomSerial(),
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

/** A positive 128-bit serial, as hex (a leading 0 byte-nibble keeps it positive in DER). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  return bytes.toString('hex');
}
