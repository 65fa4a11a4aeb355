import { build } from 'esbuild';
import { gzipSync } from 'zlib';
const r = await build({ stdin: { contents: "export { createTokenRefresh } from './src/index.ts'", resolveDir: process.cwd(), loader: 'ts' }, bundle: true, minify: true, format: 'esm', platform: 'browser', write: false, metafile: true, define: { 'process.env.NODE_ENV': '"production"' }, external: ['rxjs', 'rxjs/*', 'redux', 'redux-observable', '@reduxjs/toolkit'] });
console.log('total gzip', gzipSync(r.outputFiles[0].contents).length, 'min', r.outputFiles[0].contents.length);
const out = Object.values(r.metafile.outputs)[0];
for (const [f, v] of Object.entries(out.inputs).sort((a,b)=>b[1].bytesInOutput-a[1].bytesInOutput)) console.log(v.bytesInOutput, f);
