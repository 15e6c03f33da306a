export * from './database';
export * from './group-commit';
export * from './dependency-errors';
export * from './sweep';
