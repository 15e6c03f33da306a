export * from './validation';
export * from './errors';
export * from './metrics';
export * from './request-context';
export * from './service-runtime';
export * from './platform.module';
export * from './bootstrap';
export * from './actor';
