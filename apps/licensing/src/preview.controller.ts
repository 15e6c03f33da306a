import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { z } from 'zod';
import { tenantParams } from '@mdm/contracts/authority';
import { previewBody, previewSchema } from '@mdm/contracts/licensing';
import { previewAuthorityChange } from '@mdm/licensing/domain';
import { Clock } from '@mdm/platform/clock';
import { CLOCK, PathPipe, ZodPipe } from '@mdm/platform/http';
import { AuthorityFreshness } from './authority-freshness';
import { Directory } from './directory';

/** R10: what a tenant authority change would do (R16, R17, R22), changing nothing. */
@Controller('api/v1/tenants/:tenantId/authority/preview')
export class PreviewController {
  constructor(
    @Inject(Directory) private readonly directory: Directory,
    @Inject(AuthorityFreshness) private readonly freshness: AuthorityFreshness,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Post()
  @HttpCode(200)
  async preview(
    @Param(new PathPipe(tenantParams)) { tenantId }: z.infer<typeof tenantParams>,
    @Body(new ZodPipe(previewBody)) { authority }: z.infer<typeof previewBody>,
  ): Promise<z.infer<typeof previewSchema>> {
    await this.freshness.catchUp(tenantId);
    // One snapshot of tenant, users and devices.
    return this.directory.db.transaction(async (sql) => {
      await sql.query('set transaction isolation level repeatable read, read only');
      const tenant = await this.directory.tenant(sql, tenantId);
      const users = await this.directory.users(sql, tenantId);
      const devices = await this.directory.devices(sql, tenantId);
      return previewAuthorityChange({ tenant, target: authority, users: users.map((u) => u.state), devices, now: this.clock.now() });
    });
  }
}
