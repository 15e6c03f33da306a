export * from './schema';
export * from './inbox-consumer';
export * from './event-transport';
export * from './read-your-writes';
