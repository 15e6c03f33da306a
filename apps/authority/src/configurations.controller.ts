import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  ConfigurationEvent,
  authorityParams,
  configurationBody,
  configurationListQuery,
  configurationParams,
  configurationStreamId,
} from '@mdm/contracts/authority';
import { EventEnvelope } from '@mdm/contracts/core';
import {
  ConfigurationState,
  assertExists,
  assertLive,
  configurationEvolver,
  createConfiguration,
  deleteConfiguration,
  updateConfiguration,
} from '@mdm/authority/domain';
import { EventStore, foldStream } from '@mdm/platform/event-store';
import { Actor, PathPipe, ZodPipe } from '@mdm/platform/http';

import { TenantsService } from './tenants.service';

type Params = z.infer<typeof configurationParams>;
type ConfigurationBody = z.infer<typeof configurationBody>;

const content = ({ expectedVersion: _, ...rest }: ConfigurationBody) => rest;
const toEvent = (e: EventEnvelope) => e as unknown as ConfigurationEvent;

function view(state: ConfigurationState) {
  const { configurationId, authority, name, type, platforms, settings, assignedGroupIds, version } = state;
  return { configurationId, authority, name, type, platforms, settings, assignedGroupIds, version };
}

/** R7: profiles and compliance policies, each a stream of its own under its tenant and authority. */
@Controller('api/v1/tenants/:tenantId/authorities/:authority/configurations')
export class ConfigurationsController {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(TenantsService) private readonly tenants: TenantsService,
  ) {}

  @Post()
  @HttpCode(201)
  async create(
    @Param(new PathPipe(authorityParams)) { tenantId, authority }: z.infer<typeof authorityParams>,
    @Body(new ZodPipe(configurationBody)) body: ConfigurationBody,
    @Actor() actor: string,
  ) {
    assertExists((await this.tenants.load(tenantId)).state);
    const configurationId = randomUUID();
    const events = createConfiguration({ configurationId, authority, content: content(body) });
    await this.store.append(configurationStreamId(configurationId), events, { expectedVersion: 0, tenantId, actor });
    return view(events.reduce(configurationEvolver.evolve, configurationEvolver.initial));
  }

  /**
   * Every configuration stream of the tenant is read and folded: a tenant has a few dozen, and the
   * event store is their only record (no read model is kept for them).
   */
  @Get()
  async list(
    @Param(new PathPipe(authorityParams)) { tenantId, authority }: z.infer<typeof authorityParams>,
    @Query(new ZodPipe(configurationListQuery)) { limit, cursor }: z.infer<typeof configurationListQuery>,
  ) {
    assertExists((await this.tenants.load(tenantId)).state);
    const streams = Object.keys(await this.store.publishedVersions(tenantId, [configurationStreamId('')]));
    const states = await Promise.all(streams.map(async (id) => foldStream(configurationEvolver, await this.store.readStream(id), toEvent).state));
    const live = states
      .filter((c) => c.exists && !c.deleted && c.authority === authority)
      .sort((a, b) => a.name.localeCompare(b.name) || a.configurationId.localeCompare(b.configurationId));
    const offset = Number(cursor ?? 0);
    return { items: live.slice(offset, offset + limit).map(view), nextCursor: live.length > offset + limit ? String(offset + limit) : null };
  }

  @Get(':configurationId')
  async get(@Param(new PathPipe(configurationParams)) params: Params) {
    const { state } = await this.load(params);
    assertLive(state, params.authority);
    return view(state);
  }

  @Put(':configurationId')
  async update(
    @Param(new PathPipe(configurationParams)) params: Params,
    @Body(new ZodPipe(configurationBody)) body: ConfigurationBody,
    @Actor() actor: string,
  ) {
    const { state, version } = await this.load(params);
    const events = updateConfiguration(state, {
      authority: params.authority,
      content: content(body),
      expectedVersion: body.expectedVersion,
    });
    await this.append(params, events, version, actor);
    return view(events.reduce(configurationEvolver.evolve, state));
  }

  @Delete(':configurationId')
  @HttpCode(204)
  async remove(@Param(new PathPipe(configurationParams)) params: Params, @Actor() actor: string) {
    const { state, version } = await this.load(params);
    await this.append(params, deleteConfiguration(state, params.authority), version, actor);
  }

  /** A configuration of another tenant reads as absent. */
  private async load({ tenantId, configurationId }: Params) {
    const envelopes = await this.store.readStream(configurationStreamId(configurationId));
    const own = envelopes.length > 0 && envelopes[0].tenantId === tenantId ? envelopes : [];
    return foldStream(configurationEvolver, own, toEvent);
  }

  private append({ tenantId, configurationId }: Params, events: ConfigurationEvent[], version: number, actor: string) {
    return this.store.append(configurationStreamId(configurationId), events, { expectedVersion: version, tenantId, actor });
  }
}
