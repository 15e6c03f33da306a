import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { EventEnvelope, conflict } from '@mdm/contracts/core';
import { groupStreamId, userStreamId } from '@mdm/contracts/licensing';
import {
  TenantContext,
  UserEvent,
  UserState,
  createGroup,
  createUser,
  recomputeTenant,
  userEvolver,
} from '@mdm/licensing/domain';
import { PgErrorCode, Sql, pgErrorCode } from '@mdm/platform/database';
import { EventStore, VersionConflictError, foldStream } from '@mdm/platform/event-store';
import { Directory } from './directory';

const toEvent = (e: EventEnvelope) => e as unknown as UserEvent;
const fold = (state: UserState, events: readonly UserEvent[]) => events.reduce(userEvolver.evolve, state);

/** How often a command is re-decided on fresh state after losing a race for the user's stream. */
const RACE_RETRIES = 3;

export interface UserCommandResult {
  before: UserState;
  events: UserEvent[];
  state: UserState;
  /** The user's enrolled devices. */
  devices: string[];
}

export type UserDecision = (state: UserState, tenant: TenantContext, sql: Sql) => UserEvent[] | Promise<UserEvent[]>;

/**
 * Loads a user from its stream, lets a domain decision run on it with what the service knows of the
 * tenant, and appends what it decided together with the users projection, in one transaction.
 */
@Injectable()
export class UsersService {
  constructor(
    @Inject(EventStore) private readonly store: EventStore,
    @Inject(Directory) private readonly directory: Directory,
  ) {}

  /** A user of another tenant reads as absent. */
  async load(sql: Sql, tenantId: string, userId: string): Promise<{ state: UserState; version: number }> {
    const envelopes = await this.store.readStream(userStreamId(userId), sql);
    const own = envelopes.length > 0 && envelopes[0].tenantId === tenantId ? envelopes : [];
    return foldStream(userEvolver, own, toEvent);
  }

  /**
   * Runs `decide` against the current user. A concurrent writer to the stream makes the append fail
   * with a version conflict and the command is re-decided on fresh state. A dry run decides and
   * answers, and writes nothing.
   */
  async execute(tenantId: string, userId: string, actor: string, decide: UserDecision, dryRun = false): Promise<UserCommandResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.directory.db.transaction(async (sql) => {
          const tenant = await this.directory.tenant(sql, tenantId, true);
          const { state, version } = await this.load(sql, tenantId, userId);
          const events = await decide(state, tenant, sql);
          const next = fold(state, events);
          if (events.length > 0 && !dryRun) {
            const appended = await this.store.append(userStreamId(userId), events, { expectedVersion: version, tenantId, actor }, sql);
            await this.directory.saveUser(sql, tenantId, next, appended.streamVersion);
          }
          return { before: state, events, state: next, devices: await this.directory.devicesOf(sql, tenantId, userId) };
        });
      } catch (err) {
        if (!(err instanceof VersionConflictError) || attempt >= RACE_RETRIES) throw err;
      }
    }
  }

  /** A new user (no licenses, no effective authority); the user principal name is unique per tenant, case aside. */
  async create(
    tenantId: string,
    actor: string,
    cmd: { userPrincipalName: string; displayName?: string; groupIds?: string[] },
  ): Promise<UserState> {
    const userId = randomUUID();
    try {
      return await this.directory.db.transaction(async (sql) => {
        await this.directory.tenant(sql, tenantId, true);
        const events = createUser(
          { userId, ...cmd },
          {
            principalNameTaken: await this.directory.principalNameTaken(sql, tenantId, cmd.userPrincipalName),
            knownGroupIds: await this.directory.knownGroups(sql, tenantId, cmd.groupIds ?? []),
          },
        );
        const appended = await this.store.append(userStreamId(userId), events, { expectedVersion: 0, tenantId, actor }, sql);
        const state = fold(userEvolver.initial, events);
        await this.directory.saveUser(sql, tenantId, state, appended.streamVersion);
        return state;
      });
    } catch (err) {
      // Two creations of the same name at once: the unique index decides, the loser gets the 409.
      if (pgErrorCode(err) === PgErrorCode.uniqueViolation) {
        throw conflict('USER_EXISTS', `a user ${cmd.userPrincipalName} exists in this tenant`, {
          userPrincipalName: cmd.userPrincipalName,
        });
      }
      throw err;
    }
  }

  async createGroup(tenantId: string, actor: string, name: string): Promise<{ groupId: string; name: string }> {
    const groupId = randomUUID();
    return this.directory.db.transaction(async (sql) => {
      await this.directory.tenant(sql, tenantId);
      const events = createGroup({ groupId, name });
      await this.store.append(groupStreamId(groupId), events, { expectedVersion: 0, tenantId, actor }, sql);
      await this.directory.insertGroup(sql, tenantId, { groupId, name });
      return { groupId, name };
    });
  }

  /**
   * R9 after the tenant's authority changed (in the inbox transaction of AuthorityChanged, after the
   * tenant row was updated): every user whose effective authority moves gets UserAuthorityChanged.
   */
  async recomputeTenant(sql: Sql, tenantId: string, actor: string): Promise<number> {
    const tenant = await this.directory.tenant(sql, tenantId);
    const users = await this.directory.users(sql, tenantId);
    const byId = new Map(users.map((u) => [u.state.userId, u]));
    const moves = recomputeTenant(
      users.map((u) => u.state),
      tenant,
    );
    for (const { userId, events } of moves) {
      const { state, version } = byId.get(userId)!;
      const appended = await this.store.append(userStreamId(userId), events, { expectedVersion: version, tenantId, actor }, sql);
      await this.directory.saveUser(sql, tenantId, fold(state, events), appended.streamVersion);
    }
    return moves.length;
  }
}
