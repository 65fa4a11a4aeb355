// Browser tests wait on real time (a 3 s slow refresh, a page load); a project's `testTimeout`
// in jest.config.js is not applied per project, so the e2e project sets it here.
jest.setTimeout(60_000);
