export * from './schema';
export * from './errors';
export * from './event-store';
export * from './aggregate';
export * from './command-handler';
