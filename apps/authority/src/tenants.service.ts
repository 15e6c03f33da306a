import { Inject, Injectable } from '@nestjs/common';
import { AuthorityState, TenantCreated, TenantEvent, tenantStreamId } from '@mdm/contracts/authority';
import { EventEnvelope } from '@mdm/contracts/core';
import { TenantHistoryEvent, TenantState, bannerVisible, tenantEvolver } from '@mdm/authority/domain';
import { Database } from '@mdm/platform/database';
import { CommandHandler, EventStore, EventStreams, Transactions } from '@mdm/platform/event-store';

const toHistory = (e: EventEnvelope): TenantHistoryEvent => ({ type: e.type, data: e.data, occurredAt: e.occurredAt }) as TenantHistoryEvent;

export interface TenantSnapshot {
  state: TenantState;
  version: number;
}

/** A tenant's commands: its stream through the platform's command handler. */
@Injectable()
export class TenantsService {
  private readonly handler: CommandHandler<TenantState, TenantHistoryEvent, TenantEvent>;

  constructor(
    @Inject(EventStore) private readonly store: EventStreams & Pick<EventStore, 'eventsOfType'>,
    @Inject(Database) db: Transactions,
  ) {
    this.handler = new CommandHandler(store, db, { evolver: tenantEvolver, toEvent: toHistory });
  }

  /** Tenants in the order they were created, after a position of the event store (0 for the first). */
  async created(afterPosition: number, limit: number): Promise<{ tenantId: string; createdAt: string; position: number }[]> {
    const events = await this.store.eventsOfType(TenantCreated.type, afterPosition, limit);
    return events.map(({ position, event }) => ({ tenantId: event.tenantId, createdAt: event.occurredAt, position }));
  }

  load(tenantId: string): Promise<TenantSnapshot> {
    return this.handler.load(tenantStreamId(tenantId), tenantId);
  }

  /** Runs `decide` against the current state; a lost race is decided again on fresh state. */
  async execute(tenantId: string, actor: string, decide: (state: TenantState, version: number) => TenantEvent[]): Promise<TenantSnapshot> {
    const { state, version } = await this.handler.handle(tenantStreamId(tenantId), decide, { tenantId, actor });
    return { state, version };
  }
}

export function toAuthorityState({ state, version }: TenantSnapshot): AuthorityState {
  return {
    tenantId: state.tenantId,
    name: state.name,
    authority: state.authority,
    bannerVisible: bannerVisible(state),
    coManagement: state.coManagement,
    apnsCertificates: Object.fromEntries(
      Object.entries(state.apnsCertificates).map(([a, c]) => [a, { serial: c.serial, subject: c.subject, notAfter: c.notAfter }]),
    ),
    consents: Object.keys(state.consents) as AuthorityState['consents'],
    version,
    changedAt: state.changedAt,
  };
}
