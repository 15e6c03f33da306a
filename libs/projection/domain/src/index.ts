export * from './device-view';
export * from './tenant-view';
