import { Body, Controller, Inject, Param, Query } from '@nestjs/common';
import { z } from 'zod';
import {
  authorityOperations,
  authorityParams,
  grantConsentBody,
  registerTenantBody,
  registerTenantOperation,
  setAuthorityBody,
  setCoManagementBody,
  tenantListQuery,
  tenantParams,
  uploadApnsCertificateBody,
} from '@mdm/contracts/authority';
import {
  createTenant,
  grantConsent,
  setAuthority,
  setCoManagement,
  uploadApnsCertificate,
  assertExists,
  bannerVisible,
} from '@mdm/authority/domain';
import { Clock } from '@mdm/platform/clock';
import { Actor, CLOCK, CalledBy, GATEWAY_SERVICE, PathPipe, Serves, ZodPipe } from '@mdm/platform/http';

import { TenantsService, toAuthorityState } from './tenants.service';

type TenantParams = z.infer<typeof tenantParams>;

@Controller()
export class TenantsController {
  constructor(
    private readonly tenants: TenantsService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** R1: a tenant starts with authority unknown. The gateway chooses the id so that a retry is idempotent. */
  @Serves([registerTenantOperation], 'registerTenant')
  @CalledBy(GATEWAY_SERVICE)
  async register(@Body(new ZodPipe(registerTenantBody)) body: z.infer<typeof registerTenantBody>, @Actor() actor: string) {
    return toAuthorityState(await this.tenants.execute(body.tenantId, actor, (state) => createTenant(state, body)));
  }

  /** The operator's list: tenants by creation, each with its current authority (a page folds only its own streams). */
  @Serves(authorityOperations, 'listTenants')
  async list(@Query(new ZodPipe(tenantListQuery)) { limit, cursor }: z.infer<typeof tenantListQuery>) {
    const created = await this.tenants.created(Number(cursor ?? 0), limit + 1);
    const page = created.slice(0, limit);
    const items = await Promise.all(
      page.map(async ({ tenantId, createdAt }) => {
        const { state } = await this.tenants.load(tenantId);
        return { tenantId, name: state.name, authority: state.authority, bannerVisible: bannerVisible(state), createdAt };
      }),
    );
    return { items, nextCursor: created.length > limit ? String(page[page.length - 1].position) : null };
  }

  @Serves(authorityOperations, 'getAuthority')
  async get(@Param(new PathPipe(tenantParams)) { tenantId }: TenantParams) {
    const snapshot = await this.tenants.load(tenantId);
    assertExists(snapshot.state);
    return toAuthorityState(snapshot);
  }

  @Serves(authorityOperations, 'setAuthority')
  async setAuthority(
    @Param(new PathPipe(tenantParams)) { tenantId }: TenantParams,
    @Body(new ZodPipe(setAuthorityBody)) body: z.infer<typeof setAuthorityBody>,
    @Actor() actor: string,
  ) {
    return toAuthorityState(await this.tenants.execute(tenantId, actor, (s, v) => setAuthority(s, v, body)));
  }

  @Serves(authorityOperations, 'setCoManagement')
  async setCoManagement(
    @Param(new PathPipe(tenantParams)) { tenantId }: TenantParams,
    @Body(new ZodPipe(setCoManagementBody)) body: z.infer<typeof setCoManagementBody>,
    @Actor() actor: string,
  ) {
    return toAuthorityState(await this.tenants.execute(tenantId, actor, (s, v) => setCoManagement(s, v, body)));
  }

  @Serves(authorityOperations, 'grantConsent')
  async grantConsent(
    @Param(new PathPipe(tenantParams)) { tenantId }: TenantParams,
    @Body(new ZodPipe(grantConsentBody)) { kind }: z.infer<typeof grantConsentBody>,
    @Actor() actor: string,
  ) {
    const { state } = await this.tenants.execute(tenantId, actor, (s) => grantConsent(s, { kind, actor }));
    const consent = state.consents[kind]!;
    return { kind, grantedAt: consent.grantedAt, grantedBy: consent.grantedBy };
  }

  @Serves(authorityOperations, 'uploadApnsCertificate')
  async uploadApnsCertificate(
    @Param(new PathPipe(authorityParams)) { tenantId, authority }: z.infer<typeof authorityParams>,
    @Body(new ZodPipe(uploadApnsCertificateBody)) { certificatePem }: z.infer<typeof uploadApnsCertificateBody>,
    @Actor() actor: string,
  ) {
    const { state } = await this.tenants.execute(tenantId, actor, (s) =>
      uploadApnsCertificate(s, { authority, certificatePem, now: this.clock.now() }),
    );
    const { serial, subject, notAfter } = state.apnsCertificates[authority]!;
    return { serial, subject, notAfter };
  }
}
