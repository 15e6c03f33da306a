import { Clock } from '@mdm/platform/clock';
import { Sql } from '@mdm/platform/database';
import { NotificationReason, NotifierPort } from '../ports';
import { outboxChannel, outboxInsert, outboxWake } from '@mdm/platform/event-store';
import { notificationChannel } from './channels';

export interface NotifierDeps {
  clock: Clock;
  /** The service's schema: it names the NOTIFY channels. */
  schema: string;
  /** mdm.device.notifications, as this instance names it. */
  topic: string;
}

/**
 * Queues check-in notifications in one statement, however many devices: the rows the long poll
 * hands out, their messages on mdm.device.notifications (outbox, key = device id, for outside push
 * providers), and two NOTIFYs that Postgres sends only at commit: one wakes the outbox relay, one
 * (payload: the tenant id) wakes the waiting long polls on every replica. A rolled-back fan-out
 * therefore wakes nobody.
 */
export class NotifierService extends NotifierPort {
  private readonly topic: string;
  private readonly relayChannel: string;
  private readonly pollChannel: string;

  constructor(private readonly deps: NotifierDeps) {
    super();
    this.topic = deps.topic;
    this.relayChannel = outboxChannel(deps.schema);
    this.pollChannel = notificationChannel(deps.schema);
  }

  async notify(sql: Sql, devices: { deviceId: string; tenantId: string }[], reason: NotificationReason): Promise<void> {
    if (devices.length === 0) return;
    const createdAt = this.deps.clock.now();
    // The payload is built by Postgres from the row itself, so the message and the row cannot differ;
    // createdAt also goes in as text, in the contract's ISO form (milliseconds, Z).
    await sql.query(
      `with input as (
         select gen_random_uuid() as notification_id, device_id, tenant_id
           from unnest($1::uuid[], $2::uuid[]) as t(device_id, tenant_id)),
       n as (
         insert into notifications (notification_id, device_id, tenant_id, reason, created_at)
         select notification_id, device_id, tenant_id, $3, $4 from input
         returning notification_id, device_id, tenant_id),
       ${outboxInsert(
         {
           eventId: 'notification_id',
           topic: '$5',
           key: 'device_id::text',
           payload: `jsonb_build_object('notificationId', notification_id, 'deviceId', device_id, 'tenantId', tenant_id,
                                        'reason', $3::text, 'createdAt', $8::text)`,
           headers: `'{}'::jsonb`,
         },
         'from n',
       )}
       select (select count(*) from o) as queued,
              ${outboxWake('$6')},
              (select count(pg_notify($7, t)) from (select distinct tenant_id::text as t from input) x) as tenants_woken`,
      [
        devices.map((d) => d.deviceId),
        devices.map((d) => d.tenantId),
        reason,
        createdAt,
        this.topic,
        this.relayChannel,
        this.pollChannel,
        createdAt.toISOString(),
      ],
    );
  }
}
