import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { conflict } from '@mdm/contracts/core';
import { groupStreamId, userStreamId } from '@mdm/contracts/licensing';
import {
  GroupEvent,
  GroupState,
  TenantContext,
  UserEvent,
  UserState,
  createGroup,
  createUser,
  groupEvolver,
  recomputeTenant,
  setGroups,
  userEvolver,
} from '@mdm/licensing/domain';
import { PgErrorCode, Sql, pgErrorCode } from '@mdm/platform/database';
import { CommandHandler, EventStore, EventStreams, Transactions } from '@mdm/platform/event-store';
import { Directory } from './directory';

/** What the user and group commands read and write beside their streams: the Directory's tables (a map in the in-memory tests). */
export type UserDirectory = Pick<
  Directory,
  'catchUp' | 'tenant' | 'knownGroups' | 'principalNameTaken' | 'insertGroup' | 'saveUser' | 'users' | 'devicesOf'
> & { readonly db: Transactions };

export interface UserCommandResult {
  before: UserState;
  events: UserEvent[];
  state: UserState;
  /** The user's enrolled devices. */
  devices: string[];
}

export type UserDecision = (state: UserState, tenant: TenantContext, sql: Sql) => UserEvent[] | Promise<UserEvent[]>;

/**
 * A user's commands: its stream through the platform's command handler, each attempt in one
 * transaction with what the service knows of the tenant and the users projection (written inline).
 * Each command first catches up with the authority service (Directory.catchUp).
 */
@Injectable()
export class UsersService {
  private readonly handler: CommandHandler<UserState, UserEvent>;
  private readonly groups: CommandHandler<GroupState, GroupEvent>;

  constructor(
    @Inject(EventStore) private readonly store: EventStreams,
    @Inject(Directory) private readonly directory: UserDirectory,
  ) {
    this.handler = new CommandHandler(store, directory.db, {
      evolver: userEvolver,
      transactional: true,
      project: (sql, tenantId, { state, version }) => directory.saveUser(sql, tenantId, state, version),
    });
    this.groups = new CommandHandler(store, directory.db, {
      evolver: groupEvolver,
      transactional: true,
      project: (sql, tenantId, { state }) => directory.insertGroup(sql, tenantId, state),
    });
  }

  /**
   * Runs `decide` against the current user (a user of another tenant reads as absent); the tenant's
   * row is share-locked for the attempt (see Directory.tenant). A dry run decides and writes nothing.
   */
  async execute(tenantId: string, userId: string, actor: string, decide: UserDecision, dryRun = false): Promise<UserCommandResult> {
    await this.directory.catchUp(tenantId);
    const result = await this.handler.handle(
      userStreamId(userId),
      async (state, _version, sql) => decide(state, await this.directory.tenant(sql, tenantId, true), sql),
      { tenantId, actor, dryRun },
    );
    return { ...result, devices: await this.directory.devicesOf(this.directory.db, tenantId, userId) };
  }

  /** Replaces the user's groups; every one must be a group of the tenant (422 UNKNOWN_GROUP). */
  setGroups(tenantId: string, userId: string, actor: string, groupIds: string[]): Promise<UserCommandResult> {
    return this.execute(tenantId, userId, actor, async (user, _tenant, sql) =>
      setGroups(user, groupIds, await this.directory.knownGroups(sql, tenantId, groupIds)),
    );
  }

  /** A new user (no licenses, no effective authority); the user principal name is unique per tenant, case aside. */
  async create(
    tenantId: string,
    actor: string,
    cmd: { userPrincipalName: string; displayName?: string; groupIds?: string[] },
  ): Promise<UserState> {
    await this.directory.catchUp(tenantId);
    const userId = randomUUID();
    try {
      const { state } = await this.handler.handle(
        userStreamId(userId),
        async (_new, _version, sql) => {
          await this.directory.tenant(sql, tenantId, true);
          return createUser(
            { userId, ...cmd },
            {
              principalNameTaken: await this.directory.principalNameTaken(sql, tenantId, cmd.userPrincipalName),
              knownGroupIds: await this.directory.knownGroups(sql, tenantId, cmd.groupIds ?? []),
            },
          );
        },
        { tenantId, actor },
      );
      return state;
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
    await this.directory.catchUp(tenantId);
    const groupId = randomUUID();
    const { state } = await this.groups.handle(
      groupStreamId(groupId),
      async (group, _version, sql) => {
        await this.directory.tenant(sql, tenantId);
        return createGroup(group, { groupId, name });
      },
      { tenantId, actor },
    );
    return { groupId: state.groupId, name: state.name };
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
      await this.directory.saveUser(sql, tenantId, events.reduce(userEvolver.evolve, state), appended.streamVersion);
    }
    return moves.length;
  }
}
