/** Every client of the scenario tables: this package first (it is what the targets judge), its variants, then the peers. */
import { axiosAuthRefreshDefaults, axiosAuthRefreshNoDedupe } from './axiosAuthRefresh';
import { rtkQueryMutex } from './rtkQueryMutex';
import { seedAxiosQueue } from './seedAxiosQueue';
import { seedEpicExhaustMap, seedEpicMergeMap } from './seedEpics';
import { thisPackage, thisPackageAxios } from './thisPackage';
import { thisPackageAttachAxios } from './thisPackageAttachAxios';
import { thisPackageRtkQuery } from './thisPackageRtkQuery';
import type { ClientFactory } from './types';

export const clients: ClientFactory[] = [
  thisPackage,
  thisPackageAxios,
  thisPackageAttachAxios,
  thisPackageRtkQuery,
  axiosAuthRefreshDefaults,
  axiosAuthRefreshNoDedupe,
  rtkQueryMutex,
  seedEpicMergeMap,
  seedEpicExhaustMap,
  seedAxiosQueue,
];
