import { Body, Controller, Param, Query } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  ConfigurationEvent,
  authorityOperations,
  authorityParams,
  configurationBody,
  configurationListQuery,
  configurationParams,
  configurationStreamId,
} from '@mdm/contracts/authority';
import {
  ConfigurationState,
  assertExists,
  assertLive,
  configurationEvolver,
  createConfiguration,
  deleteConfiguration,
  updateConfiguration,
} from '@mdm/authority/domain';
import { Database } from '@mdm/platform/database';
import { CommandHandler, EventStore } from '@mdm/platform/event-store';
import { Actor, PathPipe, Serves, ZodPipe } from '@mdm/platform/http';

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
  private readonly configurations: CommandHandler<ConfigurationState, ConfigurationEvent>;

  constructor(
    private readonly store: EventStore,
    db: Database,
    private readonly tenants: TenantsService,
  ) {
    this.configurations = new CommandHandler(store, db, { evolver: configurationEvolver });
  }

  @Serves(authorityOperations, 'createConfiguration')
  async create(
    @Param(new PathPipe(authorityParams)) { tenantId, authority }: z.infer<typeof authorityParams>,
    @Body(new ZodPipe(configurationBody)) body: ConfigurationBody,
    @Actor() actor: string,
  ) {
    assertExists((await this.tenants.load(tenantId)).state);
    const configurationId = randomUUID();
    const { state } = await this.configurations.handle(
      configurationStreamId(configurationId),
      () => createConfiguration({ configurationId, authority, content: content(body) }),
      { tenantId, actor },
    );
    return view(state);
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
    const states = await Promise.all(streams.map(async (id) => (await this.configurations.load(id, tenantId)).state));
    const live = states
      .filter((c) => c.exists && !c.deleted && c.authority === authority)
      .sort((a, b) => a.name.localeCompare(b.name) || a.configurationId.localeCompare(b.configurationId));
    const offset = Number(cursor ?? 0);
    return { items: live.slice(offset, offset + limit).map(view), nextCursor: live.length > offset + limit ? String(offset + limit) : null };
  }

  @Serves(authorityOperations, 'getConfiguration')
  async get(@Param(new PathPipe(configurationParams)) params: Params) {
    const { state } = await this.configurations.load(configurationStreamId(params.configurationId), params.tenantId);
    assertLive(state, params.authority);
    return view(state);
  }

  @Serves(authorityOperations, 'updateConfiguration')
  async update(
    @Param(new PathPipe(configurationParams)) params: Params,
    @Body(new ZodPipe(configurationBody)) body: ConfigurationBody,
    @Actor() actor: string,
  ) {
    const { state } = await this.handle(params, actor, (current) =>
      updateConfiguration(current, { authority: params.authority, content: content(body), expectedVersion: body.expectedVersion }),
    );
    return view(state);
  }

  @Serves(authorityOperations, 'deleteConfiguration')
  async remove(@Param(new PathPipe(configurationParams)) params: Params, @Actor() actor: string) {
    await this.handle(params, actor, (current) => deleteConfiguration(current, params.authority));
  }

  private handle({ tenantId, configurationId }: Params, actor: string, decide: (state: ConfigurationState) => ConfigurationEvent[]) {
    return this.configurations.handle(configurationStreamId(configurationId), decide, { tenantId, actor });
  }
}
