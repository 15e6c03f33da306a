export * from './vocabulary';
export * from './events';
export * from './http';
