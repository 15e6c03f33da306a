import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { TypedEnvelope } from '@mdm/contracts/core';
import { DeviceEnrolled, DeviceRemoved, DeviceUnenrolled } from '@mdm/contracts/enrollment';
import { EventBatch, InboxContext } from '@mdm/platform/inbox';

/** What licensing keeps of the enrollment context: which devices are enrolled, for whom (R9, R16, R17, R22). */
@Controller()
export class EnrollmentEventsConsumer {
  /** A burst of enrollments is one statement. */
  @EventBatch('DeviceEnrolled')
  async devicesEnrolled(@Payload() events: TypedEnvelope<typeof DeviceEnrolled>[], @Ctx() { sql }: InboxContext) {
    await sql.query(
      `insert into devices (device_id, tenant_id, user_id, platform, managed_by, active, enrolled_at)
       select device_id, tenant_id, user_id, platform, managed_by, true, enrolled_at
         from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[])
              as d(device_id, tenant_id, user_id, platform, managed_by, enrolled_at)
       on conflict (device_id) do nothing`,
      [
        events.map((e) => e.data.deviceId),
        events.map((e) => e.tenantId),
        events.map((e) => e.data.userId),
        events.map((e) => e.data.platform),
        events.map((e) => e.data.managedBy),
        events.map((e) => e.occurredAt),
      ],
    );
  }

  /** R14: an unenrolled device is no longer switched; enrolling again makes a new device. */
  @EventPattern('DeviceUnenrolled')
  async deviceUnenrolled(@Payload() e: TypedEnvelope<typeof DeviceUnenrolled>, @Ctx() { sql }: InboxContext) {
    await deactivate(sql, e.data.deviceId);
  }

  /** R15 */
  @EventPattern('DeviceRemoved')
  async deviceRemoved(@Payload() e: TypedEnvelope<typeof DeviceRemoved>, @Ctx() { sql }: InboxContext) {
    await deactivate(sql, e.data.deviceId);
  }
}

function deactivate(sql: InboxContext['sql'], deviceId: string) {
  return sql.query('update devices set active = false, updated_at = now() where device_id = $1', [deviceId]);
}
