/**
 * Postgres NOTIFY channels of one service schema. Each schema has its own, so that two stacks (or
 * two tests) sharing a database never wake each other.
 */
export const outboxChannel = (schema: string) => `${schema}_outbox`;
export const notificationChannel = (schema: string) => `${schema}_device_notifications`;

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
