export type { TokenStorage, SyncTokenStorage, LocksLike } from './types';
export { memoryStorage } from './memory';
export { localStorageStorage, type LocalStorageOptions } from './localStorage';
export { asyncStorage, type AsyncKeyValue } from './async';
