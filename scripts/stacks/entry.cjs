// The scenario through CommonJS: what `require` gives a Node app or a Jest test.
'use strict';
const scenario = require('./scenario.cjs');

const modules = {
  toolkit: require('@reduxjs/toolkit'),
  query: require('@reduxjs/toolkit/query'),
  ro: require('redux-observable'),
  rxjs: require('rxjs'),
  main: require('redux-observable-token-refresh'),
  fetchAdapter: require('redux-observable-token-refresh/fetch'),
  rtkQueryAdapter: require('redux-observable-token-refresh/rtk-query'),
};
scenario(modules, process.env.SERVER_URL, 'cjs').then(
  (summary) => (console.log(summary), process.exit(0)),
  (error) => (console.error(error && error.stack ? error.stack : error), process.exit(1)),
);
