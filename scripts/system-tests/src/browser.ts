import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`, as `.ci/run` does). No browser is ever downloaded. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Whether {@link CHROMIUM_PATH} exists; a browser test without it is skipped (failed on CI). */
export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export interface Browser {
  context: BrowserContext;
  /** Closes the browser and deletes its profile. */
  close(): Promise<void>;
}

/**
 * Headless Debian Chromium with a new, empty profile, quiet on the network: no background
 * requests and no component updates, so it talks only to the pages the test opens.
 */
export async function launchChromium(): Promise<Browser> {
  const profile = await mkdtemp(path.join(tmpdir(), 'chromium-profile-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
      viewport: { width: 1280, height: 900 },
    });
    return {
      context,
      async close() {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
}
