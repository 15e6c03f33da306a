/**
 * A prototype, for the enrollment service's MdmCertificateAuthority.issue: the same device
 * certificate (P-256 key, ECDSA-SHA256, CN/O/OU subject, CA:false, digitalSignature, clientAuth)
 * built from a fixed DER layout and signed with node:crypto, instead of @peculiar/x509's pure-JS
 * ASN.1 (6+ ms of main-thread CPU per certificate, the largest single cost of an enrollment).
 * The bench's profile mode checks it against the CA and times it; the service does not use it.
 */
import { KeyObject, createPrivateKey, generateKeyPair, randomBytes, sign } from 'node:crypto';
import { promisify } from 'node:util';

const generateEcKeyPair = promisify(generateKeyPair);

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);
const set = (...parts: Buffer[]) => tlv(0x31, ...parts);
const oid = (hex: string) => tlv(0x06, Buffer.from(hex, 'hex'));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

const ECDSA_SHA256 = seq(oid('2a8648ce3d040302')); // 1.2.840.10045.4.3.2
const CN = '550403';
const O = '55040a';
const OU = '55040b';
/** [3] { basicConstraints critical CA:false, keyUsage critical digitalSignature, extKeyUsage clientAuth } */
const EXTENSIONS = tlv(
  0xa3,
  seq(
    seq(oid('551d13'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, seq())),
    seq(oid('551d0f'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, tlv(0x03, Buffer.from([0x07, 0x80])))),
    seq(oid('551d25'), tlv(0x04, seq(oid('2b06010505070302')))),
  ),
);
const VERSION_3 = tlv(0xa0, tlv(0x02, Buffer.from([0x02])));

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

/** The DER children of the SEQUENCE at `der` (no indefinite lengths in a certificate). */
function children(der: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const header = (at: number) => {
    const first = der[at + 1];
    if (first < 0x80) return { size: first, start: at + 2 };
    const n = first & 0x7f;
    return { size: der.readUIntBE(at + 2, n), start: at + 2 + n };
  };
  const outer = header(0);
  for (let at = outer.start; at < outer.start + outer.size; ) {
    const { size, start } = header(at);
    out.push(der.subarray(at, start + size));
    at = start + size;
  }
  return out;
}

export class NativeCertificateIssuer {
  private readonly issuerName: Buffer;
  private readonly caKey: KeyObject;

  constructor(caCertificateDer: Buffer, caPrivateKeyPkcs8: Buffer) {
    const tbs = children(children(caCertificateDer)[0]);
    this.issuerName = tbs[tbs[0][0] === 0xa0 ? 5 : 4]; // the CA's subject, byte for byte
    this.caKey = createPrivateKey({ key: caPrivateKeyPkcs8, format: 'der', type: 'pkcs8' });
  }

  async issue(subject: { deviceId: string; tenantId: string }, now: Date, days: number) {
    const { publicKey } = await generateEcKeyPair('ec', { namedCurve: 'P-256' });
    const notAfter = new Date(now.getTime() + days * 86_400_000);
    const serial = randomBytes(16);
    serial[0] &= 0x7f;
    if (serial[0] === 0) serial[0] = 1; // minimal DER INTEGER: no leading zero byte
    const tbs = seq(
      VERSION_3,
      tlv(0x02, serial),
      ECDSA_SHA256,
      this.issuerName,
      seq(time(now), time(notAfter)),
      seq(
        set(seq(oid(CN), utf8(subject.deviceId))),
        set(seq(oid(O), utf8(subject.tenantId))),
        set(seq(oid(OU), utf8('MDM device'))),
      ),
      publicKey.export({ type: 'spki', format: 'der' }),
      EXTENSIONS,
    );
    const signature = sign('sha256', tbs, { key: this.caKey, dsaEncoding: 'der' });
    const der = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.from([0]), signature));
    const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----`;
    return { serial: serial.toString('hex').toUpperCase(), notBefore: now.toISOString(), notAfter: notAfter.toISOString(), pem };
  }
}
