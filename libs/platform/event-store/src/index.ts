export * from './schema';
export * from './outbox-rows';
export * from './errors';
export * from './event-store';
export * from './aggregate';
export * from './command-handler';
