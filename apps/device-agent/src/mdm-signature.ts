import { createHash, createPrivateKey, sign } from 'node:crypto';
import {
  CertificateChoices,
  CertificateSet,
  CMSVersion,
  ContentInfo,
  DigestAlgorithmIdentifiers,
  EncapsulatedContentInfo,
  IssuerAndSerialNumber,
  SignedData,
  SignerIdentifier,
  SignerInfo,
  SignerInfos,
  Attribute,
  id_data,
  id_signedData,
} from '@peculiar/asn1-cms';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';

const SHA256 = '2.16.840.1.101.3.4.2.1';
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const CONTENT_TYPE = '1.2.840.113549.1.9.3';
const MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
/** DER of the OBJECT IDENTIFIER id-data, the value of the contentType attribute. */
const ID_DATA_DER = Buffer.from('06092a864886f70d010701', 'hex');

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const der = (tag: number, content: Buffer) => Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);

/**
 * `Mdm-Signature` as Apple's MDM protocol defines it: the base64 of a detached CMS SignedData over
 * the request body, signed with the device's identity key, its certificate included. The signed
 * attributes are the content type and the body's SHA-256; the signature covers their DER encoding
 * as a SET (RFC 5652 §5.4). Built with @peculiar/asn1-cms (the structures); the two attribute values
 * are fixed-shape DER written here.
 */
export function mdmSignature(body: string | Buffer, certificatePem: string, key: string): string {
  const cert = AsnConvert.parse(Buffer.from(certificatePem.replace(/-----[^-]+-----|\s/g, ''), 'base64'), Certificate);
  const digest = createHash('sha256').update(body).digest();
  // DER orders a SET OF by encoding: contentType's (the shorter) comes first.
  const attributes = [
    new Attribute({ attrType: CONTENT_TYPE, attrValues: [toArrayBuffer(ID_DATA_DER)] }),
    new Attribute({ attrType: MESSAGE_DIGEST, attrValues: [toArrayBuffer(der(0x04, digest))] }),
  ];
  const signedAttrs = der(0x31, Buffer.concat(attributes.map((a) => Buffer.from(AsnConvert.serialize(a)))));
  const privateKey = createPrivateKey({ key: Buffer.from(key, 'base64'), format: 'der', type: 'pkcs8' });
  const signature = sign('sha256', signedAttrs, { key: privateKey, dsaEncoding: 'der' });
  const signer = new SignerInfo({
    version: CMSVersion.v1,
    sid: new SignerIdentifier({
      issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: cert.tbsCertificate.issuer, serialNumber: cert.tbsCertificate.serialNumber }),
    }),
    digestAlgorithm: new AlgorithmIdentifier({ algorithm: SHA256 }),
    signedAttrs: attributes,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 }),
    signature: new OctetString(signature),
  });
  const signedData = new SignedData({
    version: CMSVersion.v1,
    digestAlgorithms: new DigestAlgorithmIdentifiers([new AlgorithmIdentifier({ algorithm: SHA256 })]),
    encapContentInfo: new EncapsulatedContentInfo({ eContentType: id_data }),
    certificates: new CertificateSet([new CertificateChoices({ certificate: cert })]),
    signerInfos: new SignerInfos([signer]),
  });
  const info = new ContentInfo({ contentType: id_signedData, content: AsnConvert.serialize(signedData) });
  return Buffer.from(AsnConvert.serialize(info)).toString('base64');
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}
