import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ManagingAuthority, tenantStreamId } from '@mdm/contracts/authority';
import { notFound } from '@mdm/contracts/core';
import { EnrollBody, deviceStreamId, newDeviceCredential } from '@mdm/contracts/enrollment';
import { userStreamId } from '@mdm/contracts/licensing';
import { alreadyEnrolled, checkPrerequisites } from '@mdm/enrollment/domain';
import { Database, GroupCommit, PgErrorCode, pgErrorCode } from '@mdm/platform/database';
import { EventStore } from '@mdm/platform/event-store';
import { CLOCK, SERVICE_CONFIG } from '@mdm/platform/http';
import { Clock } from '@mdm/platform/clock';
import { ReadYourWrites } from '@mdm/platform/inbox';
import { LogContext, currentContext } from '@mdm/platform/logging';
import { EnrollmentConfig } from './enrollment.definition';
import { EnrollmentFacts, Facts } from './facts';
import { csrPublicKey, newDeviceKey, newPkcs12Password, pkcs12 } from './device-keys';
import { IssuedCertificate, MdmCertificateAuthority } from './mdm-certificate-authority';

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');

export interface EnrollRequest {
  tenantId: string;
  body: EnrollBody;
  actor: string;
}

export interface Enrolled {
  deviceId: string;
  deviceCredential: string;
  managedBy: ManagingAuthority;
  mdmCertificate: { serial: string; notAfter: string; pem: string; caPem: string; pkcs12?: string; pkcs12Password?: string };
}

type Outcome = { ok: true; enrolled: Enrolled } | { ok: false; error: unknown };

interface Pending extends EnrollRequest {
  /** The request's own ids: its event carries them, whichever request's batch writes it. */
  context: LogContext;
  /** The public key of the request's CSR, verified; none: the service makes the device's key. */
  publicKey?: Buffer;
}

/** One device about to be written: its row, its event and its answer. */
interface Accepted {
  request: Pending;
  deviceId: string;
  credentialHash: string;
  managedBy: ManagingAuthority;
  certificate: IssuedCertificate;
  publicKey: Buffer;
  enrolled: Enrolled;
}

/**
 * R11–R13: enrollments. Those that arrive together are decided together (group commit): one
 * read-your-writes wait per tenant, one statement reading every enrollment's facts, one inserting
 * the devices and one appending their events, in one transaction. A refused enrollment (R12, R14)
 * is that enrollment's answer alone; the same serial never shares a batch, so of twenty at once
 * the first wins and the others find it enrolled.
 */
@Injectable()
export class Enrollments {
  private readonly batches = new GroupCommit<Pending, Outcome>((pending) => this.enrollAll(pending), {
    maxBatch: 64,
    key: (p) => `${p.tenantId}:${p.body.serialNumber}`,
  });

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: EnrollmentConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly db: Database,
    private readonly store: EventStore,
    private readonly facts: Facts,
    private readonly readYourWrites: ReadYourWrites,
    private readonly ca: MdmCertificateAuthority,
  ) {}

  /** A CSR is checked first (422 INVALID_CSR), outside the batch: its signature check is the only await. */
  async enroll(request: EnrollRequest): Promise<Enrolled> {
    const { correlationId, tenantId, causationId } = currentContext();
    const publicKey = request.body.csrPem === undefined ? undefined : await csrPublicKey(request.body.csrPem);
    const outcome = await this.batches.submit({ ...request, publicKey, context: { correlationId, tenantId, causationId } });
    if (!outcome.ok) throw outcome.error;
    return outcome.enrolled;
  }

  /** R14: the device record ends; enrolling the serial again makes a new device. */
  async unenroll(tenantId: string, deviceId: string, actor: string): Promise<{ deviceId: string; status: 'unenrolled' }> {
    await this.db.transaction(async (sql) => {
      const [device] = await sql.query(
        `update devices set status = 'unenrolled' where device_id = $1 and tenant_id = $2 and status = 'active' returning device_id`,
        [deviceId, tenantId],
      );
      if (!device) throw notFound('device');
      await this.store.append(
        deviceStreamId(deviceId),
        [{ type: 'DeviceUnenrolled', data: { deviceId, by: 'admin' } }],
        { expectedVersion: 'any', tenantId, actor },
        sql,
      );
    });
    return { deviceId, status: 'unenrolled' };
  }

  private async enrollAll(batch: Pending[]): Promise<Outcome[]> {
    const outcomes = new Map<Pending, Outcome>();
    const caughtUp = await this.catchUp(batch, outcomes);
    const facts = await this.facts.forEnrollments(caughtUp.map((p) => ({ tenantId: p.tenantId, userId: p.body.userId ?? null, serialNumber: p.body.serialNumber })));
    const now = this.clock.now();
    const accepted: Accepted[] = [];
    for (const [i, request] of caughtUp.entries()) {
      try {
        accepted.push(this.accept(request, facts[i], now));
      } catch (error) {
        outcomes.set(request, { ok: false, error });
      }
    }
    if (accepted.length > 0) await this.write(accepted, now);
    for (const a of accepted) outcomes.set(a.request, { ok: true, enrolled: a.enrolled });
    return batch.map((p) => outcomes.get(p)!);
  }

  /**
   * Read-your-writes, one wait per tenant of the batch: what an admin just did to the authority or
   * to these users' licenses counts. Every request of the batch arrived before its tenant's wait
   * starts. A tenant whose events lag refuses only its own enrollments.
   */
  private async catchUp(batch: Pending[], outcomes: Map<Pending, Outcome>): Promise<Pending[]> {
    const tenants = [...new Set(batch.map((p) => p.tenantId))];
    const lagging = new Map<string, unknown>();
    await Promise.all(
      tenants.map((tenantId) => {
        const users = [...new Set(batch.filter((p) => p.tenantId === tenantId && p.body.userId).map((p) => userStreamId(p.body.userId!)))];
        return this.readYourWrites
          .catchUpAll(tenantId, [
            { ownerUrl: this.config.AUTHORITY_URL, prefixes: [tenantStreamId(tenantId)] },
            ...(users.length > 0 ? [{ ownerUrl: this.config.LICENSING_URL, streams: users }] : []),
          ])
          .catch((error: unknown) => lagging.set(tenantId, error));
      }),
    );
    for (const p of batch) if (lagging.has(p.tenantId)) outcomes.set(p, { ok: false, error: lagging.get(p.tenantId) });
    return batch.filter((p) => !lagging.has(p.tenantId));
  }

  /**
   * R12's prerequisites in order, R14's one active device per serial, then the device's identity
   * (R13): a certificate for its CSR's key, or (bulk provisioning, and any enrollment without a CSR)
   * for a key made here and handed over once in a PKCS#12 under a one-time password, kept nowhere.
   */
  private accept(request: Pending, facts: EnrollmentFacts, now: Date): Accepted {
    const { tenantId, body } = request;
    if (!facts.tenant) throw notFound('tenant');
    const managedBy = checkPrerequisites(facts.tenant, facts.user, body, now);
    if (facts.serialActive) throw alreadyEnrolled(body.serialNumber);
    const deviceId = randomUUID();
    const deviceCredential = newDeviceCredential({ tenantId, deviceId });
    const made = request.publicKey ? undefined : newDeviceKey();
    const publicKey = request.publicKey ?? made!.publicKey;
    const certificate = this.ca.issue({ deviceId, tenantId }, publicKey, now, this.config.MDM_CERTIFICATE_DAYS);
    const mdmCertificate: Enrolled['mdmCertificate'] = { serial: certificate.serial, notAfter: certificate.notAfter, pem: certificate.pem, caPem: this.ca.certificatePem };
    if (made) {
      mdmCertificate.pkcs12Password = newPkcs12Password();
      mdmCertificate.pkcs12 = pkcs12(made.privateKey, certificate.der, this.ca.certificateDer, mdmCertificate.pkcs12Password).toString('base64');
    }
    return {
      request,
      deviceId,
      credentialHash: hash(deviceCredential),
      managedBy,
      certificate,
      publicKey,
      enrolled: { deviceId, deviceCredential, managedBy, mdmCertificate },
    };
  }

  /**
   * The devices and their DeviceEnrolled events, in one transaction. The partial unique index on
   * active serials makes a serial enrolled at once through another instance one winner: the batch
   * fails, and is split until the enrollment at fault runs alone, where the loser gets its 409.
   */
  private async write(accepted: Accepted[], now: Date): Promise<void> {
    try {
      await this.db.transaction(async (sql) => {
        await sql.query(
          `insert into devices (device_id, tenant_id, serial_number, platform, user_id, status, certificate_not_after, credential_hash, enrolled_at, public_key, own_key)
           select d.device_id, d.tenant_id, d.serial_number, d.platform, d.user_id, 'active', d.not_after, d.credential_hash, $8, d.public_key, d.own_key
             from unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::timestamptz[], $7::text[], $9::bytea[], $10::boolean[])
                  as d(device_id, tenant_id, serial_number, platform, user_id, not_after, credential_hash, public_key, own_key)`,
          [
            accepted.map((a) => a.deviceId),
            accepted.map((a) => a.request.tenantId),
            accepted.map((a) => a.request.body.serialNumber),
            accepted.map((a) => a.request.body.platform),
            accepted.map((a) => a.request.body.userId ?? null),
            accepted.map((a) => a.certificate.notAfter),
            accepted.map((a) => a.credentialHash),
            now,
            accepted.map((a) => a.publicKey),
            accepted.map((a) => a.request.publicKey !== undefined),
          ],
        );
        await this.store.appendToStreams(accepted.map((a) => this.deviceEnrolled(a)), sql);
      });
    } catch (err) {
      if (accepted.length === 1 && pgErrorCode(err) === PgErrorCode.uniqueViolation) throw alreadyEnrolled(accepted[0].request.body.serialNumber);
      throw err;
    }
  }

  private deviceEnrolled({ request, deviceId, credentialHash, managedBy, certificate }: Accepted) {
    const { tenantId, body, actor, context } = request;
    return {
      streamId: deviceStreamId(deviceId),
      events: [
        {
          type: 'DeviceEnrolled',
          data: {
            deviceId,
            serialNumber: body.serialNumber,
            platform: body.platform,
            enrollmentType: body.enrollmentType,
            userId: body.userId ?? null,
            deviceName: body.deviceName ?? null,
            osVersion: body.osVersion,
            androidWorkProfile: body.androidWorkProfile ?? false,
            managedBy,
            mdmCertificate: { serial: certificate.serial, notBefore: certificate.notBefore, notAfter: certificate.notAfter },
            credentialHash,
            pushToken: body.pushToken ?? null,
          },
        },
      ],
      opts: { tenantId, actor, correlationId: context.correlationId, causationId: context.causationId ?? null },
    };
  }
}
