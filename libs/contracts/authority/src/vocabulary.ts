import { z } from 'zod';

/** R2: what a tenant can be managed by. `unknown` only before the first choice (R1, R3). */
export const tenantAuthoritySchema = z.enum(['unknown', 'intune', 'office365', 'coexistence']);
export type TenantAuthority = z.infer<typeof tenantAuthoritySchema>;

/** The services that actually manage a device or user; configurations and APNs certificates belong to one. */
export const managingAuthoritySchema = z.enum(['intune', 'office365']);
export type ManagingAuthority = z.infer<typeof managingAuthoritySchema>;

/** R5 */
export const consentKindSchema = z.enum(['androidWorkProfile', 'appleMdmPush', 'appleDep', 'appleSchoolManager', 'appleVpp']);
export type ConsentKind = z.infer<typeof consentKindSchema>;

/** R2: co-management workloads and who handles each. */
export const coManagementWorkloadSchema = z.enum([
  'compliancePolicies',
  'deviceConfiguration',
  'resourceAccess',
  'endpointProtection',
  'clientApps',
  'officeClickToRun',
  'windowsUpdatePolicies',
]);
export type CoManagementWorkload = z.infer<typeof coManagementWorkloadSchema>;
export const workloadHandlerSchema = z.enum(['configMgr', 'intune']);
export const workloadsSchema = z.record(coManagementWorkloadSchema, workloadHandlerSchema);
export type Workloads = Record<CoManagementWorkload, z.infer<typeof workloadHandlerSchema>>;

/** R7 */
export const configurationTypeSchema = z.enum(['email', 'vpn', 'certificate', 'wifi', 'configuration', 'compliance']);
export type ConfigurationType = z.infer<typeof configurationTypeSchema>;
export const platformSchema = z.enum(['ios', 'ipados', 'macos', 'android', 'windows']);
export type Platform = z.infer<typeof platformSchema>;

/**
 * R16: the outside push service that reaches a device, implied by its platform: Apple's (APNs) for
 * Apple devices, Firebase Cloud Messaging for Android, Windows Push Notification Services for Windows.
 */
export const pushProviderSchema = z.enum(['apns', 'fcm', 'wns']);
export type PushProviderName = z.infer<typeof pushProviderSchema>;
const PUSH_PROVIDERS: Record<Platform, PushProviderName> = { ios: 'apns', ipados: 'apns', macos: 'apns', android: 'fcm', windows: 'wns' };
export const pushProviderOf = (platform: Platform): PushProviderName => PUSH_PROVIDERS[platform];

/**
 * A device's push token as the device reports it: an APNs device token (hex), an FCM registration
 * token, or a WNS channel URI. Opaque here; each provider's adapter knows its form.
 */
export const pushTokenSchema = z.string().trim().min(1).max(1024).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

/** Compliance settings the evaluator understands (API.md). */
export const complianceSettingsSchema = z
  .object({
    minOsVersion: z.string().regex(/^\d+(\.\d+)*$/, 'a dotted version such as 16.4.1'),
    requireEncryption: z.boolean(),
    blockJailbroken: z.boolean(),
    requirePasscode: z.boolean(),
  })
  .partial()
  .strict();
