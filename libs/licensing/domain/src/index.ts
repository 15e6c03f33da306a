export * from './warnings';
export * from './user';
export * from './group';
export * from './tenant-recompute';
export * from './preview';
