export * from './events';
export * from './http';
export * from './legacy-profiles';
