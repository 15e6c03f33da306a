export * from './compliance';
export * from './check-in';
