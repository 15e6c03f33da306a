import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { DomainError } from '@mdm/contracts/core';
import { Database } from '@mdm/platform/database';

/** The device a request comes from (DESIGN.md §4: a device sees only itself). */
export interface AuthenticatedDevice {
  deviceId: string;
  tenantId: string;
}

const DEVICE = /^Device\s+(\S+)$/i;
/** A device enrolled a moment ago may not have reached this service yet: look a little longer before a 401. */
const ARRIVAL_WAIT_MS = 2000;

@Injectable()
export class DeviceAuth {
  constructor(@Inject(Database) private readonly db: Database) {}

  async authenticate(req: Request): Promise<AuthenticatedDevice> {
    return this.arrived(this.credentialHash(req));
  }

  /** The sha256 of the request's device credential, the only form in which it is stored. */
  credentialHash(req: Request): string {
    const credential = DEVICE.exec(req.header('authorization') ?? '')?.[1];
    if (!credential) throw new DomainError(401, 'UNAUTHORIZED', 'expected Authorization: Device <deviceCredential>');
    return createHash('sha256').update(credential).digest('hex');
  }

  /** The active device of this credential, once its enrollment has reached this service; else a 401. */
  async arrived(credentialHash: string): Promise<AuthenticatedDevice> {
    const deadline = Date.now() + ARRIVAL_WAIT_MS;
    for (;;) {
      const [row] = await this.db.query<{ device_id: string; tenant_id: string; status: string }>(
        'select device_id, tenant_id, status from devices where credential_hash = $1',
        [credentialHash],
      );
      if (row?.status === 'active') return { deviceId: row.device_id, tenantId: row.tenant_id };
      if (row || Date.now() > deadline) throw unknownDevice();
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

export const unknownDevice = () => new DomainError(401, 'UNAUTHORIZED', 'unknown, unenrolled or removed device');
