/** A Kafka topic as the system declares it; services create what they use at start-up. */
export interface TopicSpec {
  topic: string;
  partitions: number;
  /** -1 keeps messages for ever: event topics are replayed to rebuild views (R30). */
  retentionMs: number;
}

const FOREVER = -1;
const WEEK = 7 * 24 * 3600 * 1000;

export const Topics = {
  authorityEvents: { topic: 'mdm.authority.events', partitions: 6, retentionMs: FOREVER },
  licensingEvents: { topic: 'mdm.licensing.events', partitions: 6, retentionMs: FOREVER },
  enrollmentEvents: { topic: 'mdm.enrollment.events', partitions: 12, retentionMs: FOREVER },
  deviceSyncEvents: { topic: 'mdm.devicesync.events', partitions: 12, retentionMs: FOREVER },
  /**
   * A copy of device-sync's certificate renewals (MdmCertificateRenewed's alsoOn): enrollment wants
   * them alone, not every check-in of the fleet that shares their topic.
   */
  deviceCertificates: { topic: 'mdm.devicesync.certificates', partitions: 12, retentionMs: FOREVER },
  deviceNotifications: { topic: 'mdm.device.notifications', partitions: 12, retentionMs: WEEK },
} as const satisfies Record<string, TopicSpec>;

/** Each consumer group has its own dead-letter topic; dead letters are kept for ever for inspection. */
export function deadLetterTopic(groupId: string): TopicSpec {
  return { topic: `mdm.dlq.${groupId}`, partitions: 1, retentionMs: FOREVER };
}
