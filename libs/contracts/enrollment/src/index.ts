export * from './events';
export * from './http';
export * from './device-credential';
export * from './removal';
