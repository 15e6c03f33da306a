import { Inject, Injectable } from '@nestjs/common';
import { SERVICE_CONFIG } from '@mdm/platform/http';
import { ReadYourWrites } from '@mdm/platform/inbox';
import { AUTHORITY_PREFIXES, LicensingConfig } from './licensing.definition';

/**
 * Read-your-writes with the authority service (API.md: a command that returned 2xx is visible to
 * every later command): before a licensing command, wait until this service has applied every tenant
 * and configuration event the authority service has published for the tenant, so a license assigned
 * right after an authority change or a new configuration sees it.
 */
@Injectable()
export class AuthorityFreshness {
  private readonly authorityUrl: string;

  constructor(
    @Inject(SERVICE_CONFIG) config: LicensingConfig,
    @Inject(ReadYourWrites) private readonly readYourWrites: ReadYourWrites,
  ) {
    this.authorityUrl = config.AUTHORITY_URL;
  }

  catchUp(tenantId: string): Promise<void> {
    return this.readYourWrites.catchUp(this.authorityUrl, tenantId, AUTHORITY_PREFIXES);
  }
}
