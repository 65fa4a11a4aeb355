/** Every client of the scenario tables, this package first. */
import { axiosAuthRefreshDefaults, axiosAuthRefreshNoDedupe } from './axiosAuthRefresh';
import { rtkQueryMutex } from './rtkQueryMutex';
import { seedAxiosQueue } from './seedAxiosQueue';
import { seedEpicExhaustMap, seedEpicMergeMap } from './seedEpics';
import { thisPackage } from './thisPackage';
import type { ClientFactory } from './types';

export const clients: ClientFactory[] = [
  thisPackage,
  axiosAuthRefreshDefaults,
  axiosAuthRefreshNoDedupe,
  rtkQueryMutex,
  seedEpicMergeMap,
  seedEpicExhaustMap,
  seedAxiosQueue,
];
