export { createScheduledRefreshEpic } from './scheduledRefresh';
export type { ScheduledRefreshAuth, ScheduledRefreshOptions } from './scheduledRefresh';
export { createHeartbeatEpic } from './heartbeat';
export type { HeartbeatAuth, HeartbeatOptions } from './heartbeat';
