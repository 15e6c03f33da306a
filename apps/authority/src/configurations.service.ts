import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ConfigurationEvent, ManagingAuthority, configurationStreamId } from '@mdm/contracts/authority';
import {
  ConfigurationContent,
  ConfigurationState,
  assertExists,
  configurationEvolver,
  createConfiguration,
  deleteConfiguration,
  updateConfiguration,
} from '@mdm/authority/domain';
import { Database } from '@mdm/platform/database';
import { CommandHandler, EventStore, EventStreams, Transactions } from '@mdm/platform/event-store';
import { TenantsService } from './tenants.service';

/** R7: a configuration's commands, each on its own stream through the platform's command handler. */
@Injectable()
export class ConfigurationsService {
  private readonly handler: CommandHandler<ConfigurationState, ConfigurationEvent>;

  constructor(
    @Inject(EventStore) store: EventStreams,
    @Inject(Database) db: Transactions,
    private readonly tenants: TenantsService,
  ) {
    this.handler = new CommandHandler(store, db, { evolver: configurationEvolver });
  }

  /** The configuration a stream holds; a stream of another tenant reads as absent. */
  async load(tenantId: string, streamId: string): Promise<ConfigurationState> {
    return (await this.handler.load(streamId, tenantId)).state;
  }

  /** A new configuration of an existing tenant (404 otherwise) under one of its authorities. */
  async create(tenantId: string, authority: ManagingAuthority, content: ConfigurationContent, actor: string): Promise<ConfigurationState> {
    assertExists((await this.tenants.load(tenantId)).state);
    const configurationId = randomUUID();
    return this.handle(tenantId, configurationId, actor, () => createConfiguration({ configurationId, authority, content }));
  }

  update(
    tenantId: string,
    configurationId: string,
    cmd: { authority: ManagingAuthority; content: ConfigurationContent; expectedVersion?: number },
    actor: string,
  ): Promise<ConfigurationState> {
    return this.handle(tenantId, configurationId, actor, (current) => updateConfiguration(current, cmd));
  }

  remove(tenantId: string, configurationId: string, authority: ManagingAuthority, actor: string): Promise<ConfigurationState> {
    return this.handle(tenantId, configurationId, actor, (current) => deleteConfiguration(current, authority));
  }

  private async handle(tenantId: string, configurationId: string, actor: string, decide: (state: ConfigurationState) => ConfigurationEvent[]) {
    return (await this.handler.handle(configurationStreamId(configurationId), decide, { tenantId, actor })).state;
  }
}
