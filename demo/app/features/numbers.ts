/**
 * One numbering for every request the demo makes, whichever client makes it (the epics, RTK Query,
 * the fetch widget), so that `#7` in the activity log names one request only.
 */
let last = 0;

export const nextRequestNumber = (): number => ++last;
