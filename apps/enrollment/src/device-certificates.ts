import { KeyObject, createECDH, randomBytes, randomUUID, sign } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1 from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID = { commonName: '2.5.4.3', organization: '2.5.4.10', organizationalUnit: '2.5.4.11' };
/** An uncompressed P-256 point, a 128-bit serial. */
const WIDTH = { publicKey: 65, serial: 16 };

/**
 * DER made once by the ASN.1 library from stand-in values, whose fixed-width fields are then
 * overwritten in place. Every device certificate has the same shape (same issuer, extensions and
 * field widths), so only those bytes differ; the library's schema serializer cost ten times the
 * signature, most of an enrollment's CPU in this service.
 */
export class DerTemplate<K extends string> {
  private constructor(
    private readonly bytes: Buffer,
    private readonly slots: Record<K, { at: number; width: number }>,
  ) {}

  /** `der` holds every stand-in exactly once (random stand-ins cannot occur by chance). */
  static of<K extends string>(der: ArrayBuffer, standIns: Record<K, Buffer>): DerTemplate<K> {
    const bytes = Buffer.from(der);
    const slots = {} as Record<K, { at: number; width: number }>;
    for (const [key, standIn] of Object.entries(standIns) as [K, Buffer][]) {
      const at = bytes.indexOf(standIn);
      if (at < 0 || bytes.indexOf(standIn, at + 1) >= 0) throw new Error(`DER template: the stand-in of ${key} is not there exactly once`);
      slots[key] = { at, width: standIn.length };
    }
    return new DerTemplate(bytes, slots);
  }

  fill(values: Record<K, Buffer>): Buffer {
    const out = Buffer.from(this.bytes);
    for (const [key, value] of Object.entries(values) as [K, Buffer][]) {
      const { at, width } = this.slots[key];
      if (value.length !== width) throw new Error(`DER template: ${key} is ${value.length} bytes, the template holds ${width}`);
      value.copy(out, at);
    }
    return out;
  }
}

type TbsField = 'serial' | 'notBefore' | 'notAfter' | 'deviceId' | 'tenantId' | 'publicKey';

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050, whole seconds (as asn1-x509's Time). */
const timeKind = (date: Date) => (date.getUTCFullYear() > 2049 ? 'generalized' : 'utc');
function timeText(date: Date): Buffer {
  const digits = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return Buffer.from(`${timeKind(date) === 'utc' ? digits.slice(2) : digits}Z`, 'latin1');
}

/** A positive 128-bit serial of a fixed width: the first byte is 0x40–0x7f, so DER keeps all 16 bytes. */
export function randomSerial(): Buffer {
  const serial = randomBytes(WIDTH.serial);
  serial[0] = 0x40 | (serial[0] & 0x3f);
  return serial;
}

/** A random second in [from, to) years, for stand-in validity dates. */
function standInDate(from: number, to: number): Date {
  const start = Date.UTC(from, 0, 1);
  return new Date(start + Math.floor((Math.random() * (Date.UTC(to, 0, 1) - start)) / 1000) * 1000);
}

export interface DeviceCertificate {
  /** Upper-case hex. */
  serial: string;
  der: Buffer;
  pem: string;
}

/**
 * The devices' MDM identity certificates (R13): subject CN=device id, O=tenant id, OU=MDM device;
 * a P-256 key of the device's own; client authentication only; signed ECDSA-SHA256 by the CA.
 */
export class DeviceCertificates {
  private readonly signatureAlgorithm = new asn1.AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 });
  private readonly extensions = new asn1.Extensions(
    [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ].map((e) => AsnConvert.parse(e.rawData, asn1.Extension)),
  );
  /** By the validity dates' kinds (UTCTime or GeneralizedTime each). */
  private readonly tbsTemplates = new Map<string, { template: DerTemplate<TbsField>; standIn: asn1.TBSCertificate; der: Buffer }>();
  /** The certificate around a TBS, by TBS template and signature length (DER ECDSA signatures vary). */
  private readonly certificateTemplates = new Map<string, DerTemplate<'tbs' | 'signature'>>();
  private readonly issuer: asn1.Name;
  private readonly keyAlgorithm: asn1.AlgorithmIdentifier;

  /** `caCertificateDer`: the CA's certificate; its subject is the issuer, and its key is P-256 like every device's. */
  constructor(
    caCertificateDer: ArrayBuffer,
    private readonly caKey: KeyObject,
  ) {
    const { subject, subjectPublicKeyInfo } = AsnConvert.parse(caCertificateDer, asn1.Certificate).tbsCertificate;
    this.issuer = subject;
    this.keyAlgorithm = subjectPublicKeyInfo.algorithm;
  }

  issue(subject: { deviceId: string; tenantId: string }, notBefore: Date, notAfter: Date): DeviceCertificate {
    const kinds = `${timeKind(notBefore)}/${timeKind(notAfter)}`;
    const serial = randomSerial();
    const tbs = this.tbsTemplate(kinds).template.fill({
      serial,
      notBefore: timeText(notBefore),
      notAfter: timeText(notAfter),
      deviceId: Buffer.from(subject.deviceId, 'latin1'),
      tenantId: Buffer.from(subject.tenantId, 'latin1'),
      // Node's ECDH API makes the same P-256 keys as generateKeyPair, with the public point raw.
      publicKey: createECDH('prime256v1').generateKeys(),
    });
    const signature = sign('sha256', tbs, { key: this.caKey, dsaEncoding: 'der' });
    const der = this.certificateTemplate(kinds, signature.length).fill({ tbs, signature });
    return { serial: serial.toString('hex').toUpperCase(), der, pem: x509.PemConverter.encode(der, 'CERTIFICATE') };
  }

  private tbsTemplate(kinds: string) {
    let entry = this.tbsTemplates.get(kinds);
    if (!entry) {
      const [before, after] = kinds.split('/').map((kind) => (kind === 'utc' ? standInDate(1990, 2040) : standInDate(2100, 2200)));
      const standIns = {
        serial: randomSerial(),
        notBefore: timeText(before),
        notAfter: timeText(after),
        deviceId: Buffer.from(randomUUID(), 'latin1'),
        tenantId: Buffer.from(randomUUID(), 'latin1'),
        publicKey: Buffer.concat([Buffer.from([4]), randomBytes(WIDTH.publicKey - 1)]),
      };
      const standIn = new asn1.TBSCertificate({
        version: asn1.Version.v3,
        serialNumber: new Uint8Array(standIns.serial).buffer,
        signature: this.signatureAlgorithm,
        issuer: this.issuer,
        validity: new asn1.Validity({ notBefore: before, notAfter: after }),
        subject: new asn1.Name(
          [
            [OID.commonName, standIns.deviceId.toString('latin1')],
            [OID.organization, standIns.tenantId.toString('latin1')],
            [OID.organizationalUnit, 'MDM device'],
          ].map(
            ([type, value]) =>
              new asn1.RelativeDistinguishedName([new asn1.AttributeTypeAndValue({ type, value: new asn1.AttributeValue({ utf8String: value }) })]),
          ),
        ),
        subjectPublicKeyInfo: new asn1.SubjectPublicKeyInfo({ algorithm: this.keyAlgorithm, subjectPublicKey: new Uint8Array(standIns.publicKey).buffer }),
        extensions: this.extensions,
      });
      const der = Buffer.from(AsnConvert.serialize(standIn));
      entry = { template: DerTemplate.of(der, standIns), standIn, der };
      this.tbsTemplates.set(kinds, entry);
    }
    return entry;
  }

  private certificateTemplate(kinds: string, signatureLength: number): DerTemplate<'tbs' | 'signature'> {
    const key = `${kinds}/${signatureLength}`;
    let template = this.certificateTemplates.get(key);
    if (!template) {
      const { standIn, der: tbs } = this.tbsTemplate(kinds);
      const signature = randomBytes(signatureLength);
      const certificate = new asn1.Certificate({
        tbsCertificate: standIn,
        signatureAlgorithm: this.signatureAlgorithm,
        signatureValue: new Uint8Array(signature).buffer,
      });
      template = DerTemplate.of(AsnConvert.serialize(certificate), { tbs, signature });
      this.certificateTemplates.set(key, template);
    }
    return template;
  }
}
