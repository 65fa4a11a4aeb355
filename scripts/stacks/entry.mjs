// The scenario through Node's native ESM (and, bundled by esbuild, through a bundler). The package's
// entries are imported by name, as an ESM app writes them: that is what must work on every stack.
import { createRequire } from 'node:module';
import * as main from 'redux-observable-token-refresh';
import * as fetchAdapter from 'redux-observable-token-refresh/fetch';
import * as rtkQueryAdapter from 'redux-observable-token-refresh/rtk-query';
import * as ro from 'redux-observable';
import * as rxjs from 'rxjs';
import scenario from './scenario.cjs';

// RTK 1.9 is CommonJS without an exports map: Node's ESM sees only its default export, and cannot
// import the directory '@reduxjs/toolkit/query'. That is RTK 1.9's limit, not the package's; the
// app's own RTK imports are made the way that works on RTK 1.9 and 2 alike.
const toolkitModule = await import('@reduxjs/toolkit');
const toolkit = toolkitModule.configureStore ? toolkitModule : toolkitModule.default;
const query = await import('@reduxjs/toolkit/query').catch(() => createRequire(import.meta.url)('@reduxjs/toolkit/query'));

const label = process.env.SCENARIO_LABEL ?? 'esm';
try {
  console.log(await scenario({ toolkit, query, ro, rxjs, main, fetchAdapter, rtkQueryAdapter }, process.env.SERVER_URL, label));
  process.exit(0);
} catch (error) {
  console.error(error?.stack ?? error);
  process.exit(1);
}
