export * from './events';
export * from './skus';
export * from './http';
export * from './effective-authority';
