import { KeyObject, randomBytes, randomUUID, sign } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1 from '@peculiar/asn1-x509';
import { x509 } from '@mdm/platform/crypto/x509';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID = { commonName: '2.5.4.3', organization: '2.5.4.10', organizationalUnit: '2.5.4.11' };
/** A 128-bit serial. */
const SERIAL_WIDTH = 16;

/**
 * DER made once by the ASN.1 library from stand-in values, whose fixed-width fields are then
 * overwritten in place. Every device certificate has the same shape (same issuer, extensions and
 * field widths), so only those bytes differ; the library's schema serializer and its certificate
 * builder (X509CertificateGenerator) cost most of an enrollment's CPU in this service (README,
 * "Performance notes").
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
  const serial = randomBytes(SERIAL_WIDTH);
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
 * the device's own public key; client authentication only; signed ECDSA-SHA256 by the CA.
 * The subject public key info is one fixed-width slot of the template: keys whose DER has the same
 * length (every P-256 key; RSA keys of one size) share a template, whatever their algorithm.
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

  /** `caCertificateDer`: the CA's certificate, whose subject is the issuer; `caKey`: its P-256 key. */
  constructor(
    caCertificateDer: ArrayBuffer,
    private readonly caKey: KeyObject,
  ) {
    this.issuer = AsnConvert.parse(caCertificateDer, asn1.Certificate).tbsCertificate.subject;
  }

  /** `publicKey`: the device's SubjectPublicKeyInfo, DER (as node's `export({ type: 'spki', format: 'der' })`). */
  issue(subject: { deviceId: string; tenantId: string }, publicKey: Buffer, notBefore: Date, notAfter: Date): DeviceCertificate {
    const kinds = `${timeKind(notBefore)}/${timeKind(notAfter)}/${publicKey.length}`;
    const serial = randomSerial();
    const tbs = this.tbsTemplate(kinds, publicKey).template.fill({
      serial,
      notBefore: timeText(notBefore),
      notAfter: timeText(notAfter),
      deviceId: Buffer.from(subject.deviceId, 'latin1'),
      tenantId: Buffer.from(subject.tenantId, 'latin1'),
      publicKey,
    });
    const signature = sign('sha256', tbs, { key: this.caKey, dsaEncoding: 'der' });
    const der = this.certificateTemplate(kinds, signature.length).fill({ tbs, signature });
    return { serial: serial.toString('hex').toUpperCase(), der, pem: x509.PemConverter.encode(der, 'CERTIFICATE') };
  }

  /** `publicKey`: a key of the template's width, whose algorithm the stand-in borrows. */
  private tbsTemplate(kinds: string, publicKey?: Buffer) {
    let entry = this.tbsTemplates.get(kinds);
    if (!entry) {
      if (!publicKey) throw new Error(`DER template: no template for ${kinds}`);
      const [before, after] = kinds.split('/').slice(0, 2).map((kind) => (kind === 'utc' ? standInDate(1990, 2040) : standInDate(2100, 2200)));
      // The device's key with its bits replaced by random ones: same algorithm, same width, and a stand-in that occurs once.
      const key = AsnConvert.parse(new Uint8Array(publicKey).buffer, asn1.SubjectPublicKeyInfo);
      key.subjectPublicKey = new Uint8Array(randomBytes(key.subjectPublicKey.byteLength)).buffer;
      const standIns = {
        serial: randomSerial(),
        notBefore: timeText(before),
        notAfter: timeText(after),
        deviceId: Buffer.from(randomUUID(), 'latin1'),
        tenantId: Buffer.from(randomUUID(), 'latin1'),
        publicKey: Buffer.from(AsnConvert.serialize(key)),
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
        subjectPublicKeyInfo: key,
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
