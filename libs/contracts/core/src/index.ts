export * from './envelope';
export * from './event-definition';
export * from './event-registry';
export * from './errors';
export * from './http-operation';
export * from './topics';
