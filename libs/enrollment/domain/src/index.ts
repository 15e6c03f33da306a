export * from './prerequisites';
export * from './device-key';
