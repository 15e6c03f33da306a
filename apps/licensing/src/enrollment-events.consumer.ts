import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { EventData, EventEnvelope } from '@mdm/contracts/core';
import { DeviceEnrolled } from '@mdm/contracts/enrollment';
import { InboxContext } from '@mdm/platform/inbox';

/** What licensing keeps of the enrollment context: which devices are enrolled, for whom (R9, R16, R17, R22). */
@Controller()
export class EnrollmentEventsConsumer {
  @EventPattern('DeviceEnrolled')
  async deviceEnrolled(@Payload() e: EventEnvelope<EventData<typeof DeviceEnrolled>>, @Ctx() { sql }: InboxContext) {
    await sql.query(
      `insert into devices (device_id, tenant_id, user_id, platform, managed_by, active, enrolled_at)
       values ($1, $2, $3, $4, $5, true, $6) on conflict (device_id) do nothing`,
      [e.data.deviceId, e.tenantId, e.data.userId, e.data.platform, e.data.managedBy, e.occurredAt],
    );
  }

  /** R14: an unenrolled device is no longer switched; enrolling again makes a new device. */
  @EventPattern('DeviceUnenrolled')
  async deviceUnenrolled(@Payload() e: EventEnvelope<{ deviceId: string }>, @Ctx() { sql }: InboxContext) {
    await deactivate(sql, e.data.deviceId);
  }

  /** R15 */
  @EventPattern('DeviceRemoved')
  async deviceRemoved(@Payload() e: EventEnvelope<{ deviceId: string }>, @Ctx() { sql }: InboxContext) {
    await deactivate(sql, e.data.deviceId);
  }
}

function deactivate(sql: InboxContext['sql'], deviceId: string) {
  return sql.query('update devices set active = false, updated_at = now() where device_id = $1', [deviceId]);
}
