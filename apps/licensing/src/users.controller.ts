import { Body, Controller, Param, Query } from '@nestjs/common';
import { z } from 'zod';
import { tenantParams } from '@mdm/contracts/authority';
import { notFound } from '@mdm/contracts/core';
import {
  assignLicenseBody,
  createGroupBody,
  createUserBody,
  groupListQuery,
  licenseAnswerSchema,
  licenseParams,
  licensingOperations,
  setUserGroupsBody,
  userListQuery,
  userParams,
  userSchema,
} from '@mdm/contracts/licensing';
import { UserState, assignLicense, licenseOutcome, removeLicense } from '@mdm/licensing/domain';
import { Actor, PathPipe, Serves, ZodPipe } from '@mdm/platform/http';
import { Directory } from './directory';
import { UserCommandResult, UsersService } from './users.service';

type TenantParams = z.infer<typeof tenantParams>;
type UserParams = z.infer<typeof userParams>;

function userView(state: UserState, devices: string[]): z.infer<typeof userSchema> {
  const { userId, userPrincipalName, displayName, groupIds, licenses, effectiveAuthority } = state;
  return { userId, userPrincipalName, displayName, groupIds, licenses, effectiveAuthority, devices };
}

/** R9: when the effective authority moves, every enrolled device of the user is switched. */
function licenseAnswer({ before, events, devices }: UserCommandResult, dryRun: boolean): z.infer<typeof licenseAnswerSchema> {
  const outcome = licenseOutcome(before, events);
  return {
    userId: outcome.state.userId,
    licenses: outcome.state.licenses,
    effectiveAuthority: outcome.effectiveAuthority,
    previousAuthority: outcome.previousAuthority,
    devicesToSwitch: outcome.moved ? devices.length : 0,
    warnings: outcome.warnings,
    dryRun,
  };
}

/** Groups, users and their licenses (R8–R10). */
@Controller()
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly directory: Directory,
  ) {}

  @Serves(licensingOperations, 'createGroup')
  async createGroup(
    @Param(new PathPipe(tenantParams)) { tenantId }: TenantParams,
    @Body(new ZodPipe(createGroupBody)) { name }: z.infer<typeof createGroupBody>,
    @Actor() actor: string,
  ) {
    return this.users.createGroup(tenantId, actor, name);
  }

  @Serves(licensingOperations, 'createUser')
  async createUser(
    @Param(new PathPipe(tenantParams)) { tenantId }: TenantParams,
    @Body(new ZodPipe(createUserBody)) body: z.infer<typeof createUserBody>,
    @Actor() actor: string,
  ) {
    return userView(await this.users.create(tenantId, actor, body), []);
  }

  @Serves(licensingOperations, 'listGroups')
  async listGroups(@Param(new PathPipe(tenantParams)) { tenantId }: TenantParams, @Query(new ZodPipe(groupListQuery)) query: z.infer<typeof groupListQuery>) {
    return this.directory.listGroups(tenantId, query);
  }

  @Serves(licensingOperations, 'listUsers')
  async listUsers(@Param(new PathPipe(tenantParams)) { tenantId }: TenantParams, @Query(new ZodPipe(userListQuery)) query: z.infer<typeof userListQuery>) {
    return this.directory.listUsers(tenantId, query);
  }

  @Serves(licensingOperations, 'getUser')
  async getUser(@Param(new PathPipe(userParams)) { tenantId, userId }: UserParams) {
    const user = await this.directory.user(this.directory.db, tenantId, userId);
    if (!user) throw notFound('user');
    return userView(user.state, await this.directory.devicesOf(this.directory.db, tenantId, userId));
  }

  @Serves(licensingOperations, 'setUserGroups')
  async setGroups(
    @Param(new PathPipe(userParams)) { tenantId, userId }: UserParams,
    @Body(new ZodPipe(setUserGroupsBody)) { groupIds }: z.infer<typeof setUserGroupsBody>,
    @Actor() actor: string,
  ) {
    const { state, devices } = await this.users.setGroups(tenantId, userId, actor, groupIds);
    return userView(state, devices);
  }

  @Serves(licensingOperations, 'assignLicense')
  async assignLicense(
    @Param(new PathPipe(userParams)) { tenantId, userId }: UserParams,
    @Body(new ZodPipe(assignLicenseBody)) { sku, dryRun = false }: z.infer<typeof assignLicenseBody>,
    @Actor() actor: string,
  ) {
    const result = await this.users.execute(tenantId, userId, actor, (user, tenant) => assignLicense(user, sku, tenant), dryRun);
    return licenseAnswer(result, dryRun);
  }

  @Serves(licensingOperations, 'removeLicense')
  async removeLicense(@Param(new PathPipe(licenseParams)) { tenantId, userId, sku }: z.infer<typeof licenseParams>, @Actor() actor: string) {
    const result = await this.users.execute(tenantId, userId, actor, (user, tenant) => removeLicense(user, sku, tenant));
    return licenseAnswer(result, false);
  }
}
