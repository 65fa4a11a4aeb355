import { existsSync } from 'node:fs';
import { build, type BuildOptions } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium; CHROMIUM_PATH points elsewhere (another distribution, or a check of the skip). */
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

/**
 * The package's source bundled for a page, as a browser app gets it in development (warnings on):
 * one classic script. `entry` is an `entryPoints` or `stdin` option.
 */
export async function bundleForBrowser(entry: Pick<BuildOptions, 'entryPoints' | 'stdin' | 'nodePaths'>): Promise<string> {
  const bundled = await build({
    ...entry,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"development"' },
  });
  return bundled.outputFiles[0]!.text;
}

/** One headless Chromium with the flags every browser suite needs here: no sandbox, no GPU, no network of its own. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}
