/**
 * `npm run bench` (node --expose-gc --import tsx run.ts, cwd bench/). Benchmarks run in production
 * mode, as apps ship: Redux Toolkit's dev-only state checks would otherwise dominate RTK Query's
 * figures. The env must be set before any module is loaded, hence the dynamic import.
 */
export {};

process.env.NODE_ENV ??= 'production';
await import('./main');
