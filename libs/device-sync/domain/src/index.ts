export * from './compliance';
export * from './check-in';
export * from './configuration-delta';
export * from './device-rows';
