import { randomBytes, randomUUID } from 'node:crypto';
import { EventEnvelope } from '@mdm/contracts/core';
import { kafkaHeaders } from '@mdm/platform/event-store';

/**
 * Devices spread over tenants, and the events their services would publish about them: the
 * tenants' own stream (created, authority set), enrollment's DeviceEnrolled on `device-<id>`, and
 * device-sync's check-ins, remote actions and certificate renewals on `devicesync-<id>` with the
 * stream versions counting up per device (the projection ignores a version it has already applied).
 * Valid against the contracts (DeviceCheckedIn at schemaVersion 2, with `migration` and `migrationSince`).
 */

type Authority = 'intune' | 'office365';

interface Device {
  id: string;
  tenantId: string;
  userId: string;
  managedBy: Authority;
  platform: 'ios' | 'android' | 'windows' | 'macos';
  syncVersion: number;
  /** Remote actions queued or sent and not finished yet: [commandId, type, status]. */
  commands: [string, 'remoteLock' | 'sync' | 'retire', 'pending' | 'sent'][];
}

export interface Message {
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

const HOUR = 3_600_000;
const PLATFORMS = ['ios', 'android', 'windows', 'macos'] as const;
const ACTIONS = ['remoteLock', 'sync', 'retire'] as const;

const config = (name: string, type: string, authority: Authority) => ({ configurationId: randomUUID(), name, type, authority, version: 1 });
const CONFIGS: Record<Authority, ReturnType<typeof config>[]> = {
  intune: [config('Corporate Mail', 'email', 'intune'), config('Office Wi-Fi', 'wifi', 'intune'), config('Baseline', 'compliance', 'intune')],
  office365: [config('Mail', 'email', 'office365'), config('Office Wi-Fi', 'wifi', 'office365')],
};

/** The share of each device-sync event in the steady stream (the rest are check-ins). */
export interface Mix {
  remoteActionQueued: number;
  remoteActionStatusChanged: number;
  certificateRenewed: number;
}

export const LIVE_MIX: Mix = { remoteActionQueued: 0.08, remoteActionStatusChanged: 0.08, certificateRenewed: 0.02 };

export class DeviceFleet {
  readonly tenants: { id: string; authority: Authority }[];
  readonly devices: Device[];
  private cursor = 0;
  private seed = 1;

  /** topicOf: the topic of each event type (the isolated copies of the projection's topics). */
  constructor(
    private readonly topicOf: Record<string, string>,
    tenants: number,
    devices: number,
  ) {
    this.tenants = Array.from({ length: tenants }, (_, i) => ({ id: randomUUID(), authority: i % 3 === 2 ? 'office365' : 'intune' }));
    this.devices = Array.from({ length: devices }, (_, i) => {
      const tenant = this.tenants[i % tenants];
      return {
        id: randomUUID(),
        tenantId: tenant.id,
        userId: randomUUID(),
        managedBy: tenant.authority,
        platform: PLATFORMS[i % PLATFORMS.length],
        syncVersion: 0,
        commands: [],
      };
    });
  }

  /** TenantCreated and AuthorityChanged of every tenant. */
  tenantEvents(now = new Date()): EventEnvelope[] {
    return this.tenants.flatMap((t, i) => [
      this.envelope('TenantCreated', `tenant-${t.id}`, 1, t.id, now, { tenantId: t.id, name: `Bench tenant ${i}` }),
      this.envelope('AuthorityChanged', `tenant-${t.id}`, 2, t.id, now, { from: 'unknown', to: t.authority }),
    ]);
  }

  /** DeviceEnrolled of devices [from, to). */
  enrollments(from = 0, to = this.devices.length, now = new Date()): EventEnvelope[] {
    return this.devices.slice(from, to).map((d) =>
      this.envelope('DeviceEnrolled', `device-${d.id}`, 1, d.tenantId, now, {
        deviceId: d.id,
        serialNumber: `SN${d.id.slice(0, 8).toUpperCase()}`,
        platform: d.platform,
        enrollmentType: 'user',
        userId: d.userId,
        deviceName: null,
        osVersion: '17.4',
        androidWorkProfile: d.platform === 'android',
        managedBy: d.managedBy,
        mdmCertificate: { serial: randomBytes(8).toString('hex').toUpperCase(), notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 365 * 24 * HOUR).toISOString() },
        credentialHash: randomBytes(32).toString('hex'),
      }),
    );
  }

  /**
   * The next device-sync event: devices take turns (a few thousand devices, each about once per
   * round), the type drawn from the mix; a status change needs a queued action, else it is a check-in.
   */
  next(now: Date, mix: Mix = LIVE_MIX): EventEnvelope {
    const d = this.devices[this.cursor];
    this.cursor = (this.cursor + 1) % this.devices.length;
    const r = this.random();
    const at = now.toISOString();
    const sync = (type: string, data: unknown) => this.envelope(type, `devicesync-${d.id}`, ++d.syncVersion, d.tenantId, now, data);
    if (r < mix.remoteActionQueued && d.commands.length < 3) {
      const command: Device['commands'][number] = [randomUUID(), ACTIONS[d.syncVersion % ACTIONS.length], 'pending'];
      d.commands.push(command);
      return sync('RemoteActionQueued', { commandId: command[0], deviceId: d.id, type: command[1] });
    }
    if (r < mix.remoteActionQueued + mix.remoteActionStatusChanged && d.commands.length > 0) {
      const command = d.commands[0];
      const status = command[2] === 'pending' ? 'sent' : 'done';
      if (status === 'sent') command[2] = 'sent';
      else d.commands.shift();
      return sync('RemoteActionStatusChanged', { commandId: command[0], deviceId: d.id, type: command[1], status, error: null });
    }
    if (r < mix.remoteActionQueued + mix.remoteActionStatusChanged + mix.certificateRenewed) {
      return sync('MdmCertificateRenewed', {
        deviceId: d.id,
        serial: randomBytes(8).toString('hex').toUpperCase(),
        notBefore: at,
        notAfter: new Date(now.getTime() + 365 * 24 * HOUR).toISOString(),
      });
    }
    const compliant = r < 0.95;
    return sync('DeviceCheckedIn', {
      deviceId: d.id,
      managedBy: d.managedBy,
      state: { osVersion: '17.4.1', encrypted: true, jailbroken: false, passcodeSet: compliant },
      configurations: CONFIGS[d.managedBy],
      redundantConfigurations: [],
      compliance: {
        state: compliant ? 'compliant' : 'noncompliant',
        reasons: compliant ? [] : [{ setting: 'passcodeSet', expected: true, actual: false }],
        source: d.managedBy,
      },
      nextCheckInAt: new Date(now.getTime() + 8 * HOUR).toISOString(),
      migration: 'none',
      migrationSince: null,
    });
  }

  /** The Kafka message the outbox relay would send for the event: key = stream id. */
  message(e: EventEnvelope): Message {
    return { topic: this.topicOf[e.type], key: e.streamId, value: JSON.stringify(e), headers: kafkaHeaders(e) };
  }

  private envelope(type: string, streamId: string, streamVersion: number, tenantId: string, now: Date, data: unknown): EventEnvelope {
    const at = now.toISOString();
    return {
      eventId: randomUUID(),
      type,
      schemaVersion: type === 'DeviceCheckedIn' ? 2 : 1,
      streamId,
      streamVersion,
      tenantId,
      occurredAt: at,
      recordedAt: at,
      actor: 'bench',
      correlationId: randomUUID(),
      causationId: null,
      data,
    };
  }

  /** Deterministic enough and cheap (mulberry32). */
  private random(): number {
    let t = (this.seed += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** One sendBatch per group of messages, grouped by topic. */
export function topicMessages(messages: Message[]): { topic: string; messages: Omit<Message, 'topic'>[] }[] {
  const byTopic = new Map<string, Omit<Message, 'topic'>[]>();
  for (const { topic, ...m } of messages) {
    let list = byTopic.get(topic);
    if (!list) byTopic.set(topic, (list = []));
    list.push(m);
  }
  return [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs }));
}
