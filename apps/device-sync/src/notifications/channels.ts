/**
 * The NOTIFY channel that wakes a schema's waiting long polls. Each schema has its own, so that two
 * stacks (or two tests) sharing a database never wake each other.
 */
export const notificationChannel = (schema: string) => `${schema}_device_notifications`;
