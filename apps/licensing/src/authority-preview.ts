import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { TenantAuthority } from '@mdm/contracts/authority';
import { previewSchema } from '@mdm/contracts/licensing';
import { previewAuthorityChange } from '@mdm/licensing/domain';
import { Clock } from '@mdm/platform/clock';
import { CLOCK } from '@mdm/platform/http';
import { Directory } from './directory';

/** R10: what a tenant authority change would do (R16, R17, R22), decided on one snapshot and changing nothing. */
@Injectable()
export class AuthorityPreview {
  constructor(
    private readonly directory: Directory,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async preview(tenantId: string, target: TenantAuthority): Promise<z.infer<typeof previewSchema>> {
    await this.directory.catchUp(tenantId);
    // One snapshot of tenant, users and devices.
    return this.directory.db.transaction(async (sql) => {
      await sql.query('set transaction isolation level repeatable read, read only');
      const tenant = await this.directory.tenant(sql, tenantId);
      const users = await this.directory.users(sql, tenantId);
      const devices = await this.directory.devices(sql, tenantId);
      return previewAuthorityChange({ tenant, target, users: users.map((u) => u.state), devices, now: this.clock.now() });
    });
  }
}
