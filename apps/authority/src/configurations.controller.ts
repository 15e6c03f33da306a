import { Body, Controller, Param, Query } from '@nestjs/common';
import { z } from 'zod';
import {
  authorityOperations,
  authorityParams,
  configurationBody,
  configurationListQuery,
  configurationParams,
  configurationStreamId,
} from '@mdm/contracts/authority';
import { ConfigurationState, assertExists, assertLive } from '@mdm/authority/domain';
import { EventStore } from '@mdm/platform/event-store';
import { Actor, PathPipe, Serves, ZodPipe } from '@mdm/platform/http';

import { ConfigurationsService } from './configurations.service';
import { TenantsService } from './tenants.service';

type Params = z.infer<typeof configurationParams>;
type ConfigurationBody = z.infer<typeof configurationBody>;

const content = ({ expectedVersion: _, ...rest }: ConfigurationBody) => rest;

function view(state: ConfigurationState) {
  const { configurationId, authority, name, type, platforms, settings, assignedGroupIds, version } = state;
  return { configurationId, authority, name, type, platforms, settings, assignedGroupIds, version };
}

/** R7: profiles and compliance policies, each a stream of its own under its tenant and authority. */
@Controller()
export class ConfigurationsController {
  constructor(
    private readonly store: EventStore,
    private readonly configurations: ConfigurationsService,
    private readonly tenants: TenantsService,
  ) {}

  @Serves(authorityOperations, 'createConfiguration')
  async create(
    @Param(new PathPipe(authorityParams)) { tenantId, authority }: z.infer<typeof authorityParams>,
    @Body(new ZodPipe(configurationBody)) body: ConfigurationBody,
    @Actor() actor: string,
  ) {
    return view(await this.configurations.create(tenantId, authority, content(body), actor));
  }

  /**
   * Every configuration stream of the tenant is read and folded: a tenant has a few dozen, and the
   * event store is their only record (no read model is kept for them).
   */
  @Serves(authorityOperations, 'listConfigurations')
  async list(
    @Param(new PathPipe(authorityParams)) { tenantId, authority }: z.infer<typeof authorityParams>,
    @Query(new ZodPipe(configurationListQuery)) { limit, cursor }: z.infer<typeof configurationListQuery>,
  ) {
    assertExists((await this.tenants.load(tenantId)).state);
    const streams = Object.keys(await this.store.publishedVersions(tenantId, [configurationStreamId('')]));
    const states = await Promise.all(streams.map((id) => this.configurations.load(tenantId, id)));
    const live = states
      .filter((c) => c.exists && !c.deleted && c.authority === authority)
      .sort((a, b) => a.name.localeCompare(b.name) || a.configurationId.localeCompare(b.configurationId));
    const offset = Number(cursor ?? 0);
    return { items: live.slice(offset, offset + limit).map(view), nextCursor: live.length > offset + limit ? String(offset + limit) : null };
  }

  @Serves(authorityOperations, 'getConfiguration')
  async get(@Param(new PathPipe(configurationParams)) { tenantId, authority, configurationId }: Params) {
    const state = await this.configurations.load(tenantId, configurationStreamId(configurationId));
    assertLive(state, authority);
    return view(state);
  }

  @Serves(authorityOperations, 'updateConfiguration')
  async update(
    @Param(new PathPipe(configurationParams)) { tenantId, authority, configurationId }: Params,
    @Body(new ZodPipe(configurationBody)) body: ConfigurationBody,
    @Actor() actor: string,
  ) {
    const cmd = { authority, content: content(body), expectedVersion: body.expectedVersion };
    return view(await this.configurations.update(tenantId, configurationId, cmd, actor));
  }

  @Serves(authorityOperations, 'deleteConfiguration')
  async remove(@Param(new PathPipe(configurationParams)) { tenantId, authority, configurationId }: Params, @Actor() actor: string) {
    await this.configurations.remove(tenantId, configurationId, authority, actor);
  }
}
