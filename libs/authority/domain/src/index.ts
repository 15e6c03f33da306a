export * from './tenant';
export * from './apns-certificate';
export * from './configuration';
