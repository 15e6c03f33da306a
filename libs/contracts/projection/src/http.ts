import { z } from 'zod';
import { HttpOperation, READ_ROLES, isoDateTime, named, uuid } from '@mdm/contracts/core';
import { managingAuthoritySchema, platformSchema, pushProviderSchema, TENANT_PATH, tenantAuthoritySchema } from '@mdm/contracts/authority';
import {
  complianceReasonSchema,
  complianceStateSchema,
  migrationStateSchema,
  remoteActionStatusSchema,
  remoteActionTypeSchema,
} from '@mdm/contracts/device-sync';
import { effectiveAuthoritySchema } from '@mdm/contracts/licensing';

/** R29: how fresh a view is. */
const freshness = { asOf: isoDateTime.nullable(), lagMs: z.number().int().nonnegative() };

/** An opaque position in a list: what `nextCursor` said. */
const cursor = z.string().min(1).max(200).regex(/^[A-Za-z0-9_-]+$/, 'a cursor from nextCursor');
const page = { limit: z.coerce.number().int().min(1).max(500).default(50), cursor: cursor.optional() };
export const viewPageQuery = z.object(page).strict();
export type ViewPageQuery = z.infer<typeof viewPageQuery>;

export const tenantViewParams = z.object({ tenantId: uuid }).strict();
export const deviceViewParams = z.object({ tenantId: uuid, deviceId: uuid }).strict();

/** R27: the device list's filters. */
export const deviceListQuery = z
  .object({
    managedBy: managingAuthoritySchema.optional(),
    compliance: complianceStateSchema.optional(),
    migration: migrationStateSchema.optional(),
    platform: platformSchema.optional(),
    userId: uuid.optional(),
    ...page,
  })
  .strict();
export type DeviceListQuery = z.infer<typeof deviceListQuery>;

const count = z.number().int().nonnegative();

/** R26 */
export const overviewSchema = z.object({
  authority: tenantAuthoritySchema,
  bannerVisible: z.boolean(),
  devices: z.object({
    total: count,
    byManagedBy: z.object({ intune: count, office365: count }),
    byCompliance: z.object({ compliant: count, noncompliant: count, notEvaluated: count }),
    byMigration: z.object({ migrated: count, pendingCheckIn: count, needsSupport: count, blockedApns: count, legacyProfilesExpired: count }),
  }),
  expectedByScheduledCheckIn: z.object({ count, earliest: isoDateTime.nullable(), latest: isoDateTime.nullable() }),
  ...freshness,
});
export type Overview = z.infer<typeof overviewSchema>;

export const deviceListItemSchema = z.object({
  deviceId: uuid,
  platform: platformSchema,
  userId: uuid.nullable(),
  managedBy: managingAuthoritySchema,
  compliance: complianceStateSchema,
  migration: migrationStateSchema,
  lastCheckInAt: isoDateTime.nullable(),
});
export type DeviceListItem = z.infer<typeof deviceListItemSchema>;

export const deviceListSchema = z.object({ items: z.array(deviceListItemSchema), nextCursor: cursor.nullable(), ...freshness });

export const configurationViewSchema = z.object({ name: z.string(), type: z.string(), authority: managingAuthoritySchema, version: z.number().int() });
export type ConfigurationView = z.infer<typeof configurationViewSchema>;

export const timelineEntrySchema = z.object({ type: z.string(), occurredAt: isoDateTime, data: z.record(z.unknown()) });
export type TimelineEntry = z.infer<typeof timelineEntrySchema>;

/** R27 */
export const deviceDetailSchema = deviceListItemSchema.extend({
  serialNumber: z.string(),
  deviceName: z.string().nullable(),
  enrollmentType: z.enum(['user', 'ade', 'bulk']),
  enrolledAt: isoDateTime,
  configurations: z.array(configurationViewSchema),
  redundantConfigurations: z.array(configurationViewSchema),
  /** R23: the old authority's profiles a device keeps until it checks in, or until they expire. */
  legacyConfigurations: z.object({ items: z.array(configurationViewSchema), expiresAt: isoDateTime.nullable(), expired: z.boolean() }),
  compliance: z.object({ state: complianceStateSchema, reasons: z.array(complianceReasonSchema), source: z.string().nullable() }),
  nextCheckInAt: isoDateTime.nullable(),
  mdmCertificate: z.object({ serial: z.string(), notAfter: isoDateTime }),
  /** R15: 180 days after the certificate expires. */
  removalDueAt: isoDateTime,
  /** R16: the device's push provider, and whether it has a push token there (cleared when the provider calls it dead). */
  push: z.object({ provider: pushProviderSchema, registered: z.boolean() }),
  pendingActions: z.array(z.object({ commandId: uuid, type: remoteActionTypeSchema, status: remoteActionStatusSchema, updatedAt: isoDateTime })),
  timeline: z.array(timelineEntrySchema),
  ...freshness,
});
export type DeviceDetail = z.infer<typeof deviceDetailSchema>;

/** R28 */
export const migrationReportSchema = z.object({
  changedAt: isoDateTime.nullable(),
  from: tenantAuthoritySchema.nullable(),
  to: tenantAuthoritySchema.nullable(),
  points: z.array(z.object({ at: isoDateTime, migrated: count, pending: count })),
  ...freshness,
});

const report = <T extends z.ZodTypeAny>(item: T) => z.object({ items: z.array(item), nextCursor: cursor.nullable(), ...freshness });

export const redundantReportSchema = report(z.object({ deviceId: uuid, name: z.string(), type: z.string(), authority: managingAuthoritySchema }));
export const unconfiguredSwitchesSchema = report(
  z.object({ userId: uuid, from: effectiveAuthoritySchema, to: effectiveAuthoritySchema, switchedAt: isoDateTime }),
);
export const removalDueSchema = report(z.object({ deviceId: uuid, mdmCertificateNotAfter: isoDateTime, removalDueAt: isoDateTime }));

/** R30 */
export const rebuildStatusSchema = named('ProjectionRebuild', z.object({
  /** The generation of tables the views are served from. */
  liveGeneration: z.number().int().positive(),
  rebuild: z
    .object({
      generation: z.number().int().positive(),
      status: z.enum(['running', 'switched', 'failed']),
      startedAt: isoDateTime,
      finishedAt: isoDateTime.nullable(),
      eventsApplied: count,
      error: z.string().nullable(),
    })
    .nullable(),
}));
export type RebuildStatus = z.infer<typeof rebuildStatusSchema>;

const view = (id: string, path: string, summary: string, response: z.ZodTypeAny, query?: z.AnyZodObject, params = tenantViewParams) =>
  ({ id, method: 'GET', path: `${TENANT_PATH}${path}`, access: READ_ROLES, summary, params, query, response, successStatus: 200, audited: false }) as const;

/** API.md "Views" (R26–R30), served by the projection service. */
export const projectionOperations: HttpOperation[] = [
  view('getOverview', '/overview', 'R26: the tenant overview', overviewSchema),
  view('listDevices', '/devices', 'R27: the device list, filtered, in pages', deviceListSchema, deviceListQuery),
  view('getDevice', '/devices/:deviceId', 'R27: a device with its profiles, compliance, actions and timeline', deviceDetailSchema, undefined, deviceViewParams),
  view('migrationReport', '/reports/migration', 'R28: migration progress since the last authority change', migrationReportSchema),
  view('redundantReport', '/reports/redundant-configurations', 'R28/R21: redundant profiles', redundantReportSchema, viewPageQuery),
  view('unconfiguredSwitchesReport', '/reports/unconfigured-switches', 'R28/R10: users switched to Intune with no Intune configuration', unconfiguredSwitchesSchema, viewPageQuery),
  view('removalDueReport', '/reports/removal-due', 'R28/R15: devices whose MDM certificate expired, with their removal date', removalDueSchema, viewPageQuery),
  {
    id: 'startProjectionRebuild',
    method: 'POST',
    path: '/api/v1/system/projection/rebuild',
    access: 'operator',
    summary: 'R30: replay the event topics into fresh view tables while the live ones serve, then switch over',
    response: rebuildStatusSchema,
    successStatus: 202,
    audited: false,
  },
  {
    id: 'getProjectionRebuild',
    method: 'GET',
    path: '/api/v1/system/projection/rebuild',
    access: 'operator',
    summary: 'R30: the live generation of the views and the last rebuild',
    response: rebuildStatusSchema,
    successStatus: 200,
    audited: false,
  },
];
