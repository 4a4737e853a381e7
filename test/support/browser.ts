/**
 * Headless Chromium for the browser tests, from the `@sparticuz/chromium` devDependency: a
 * Chromium build shipped inside the npm package (unpacked to the temp folder on first use),
 * so `npm install && npm test` needs no browser installed by hand and no download at test
 * time. Driven by `playwright-core`.
 */
import sparticuzChromium from "@sparticuz/chromium";
import { type Browser, chromium } from "playwright-core";

/** Chromium's own background connections are refused by a closed network: switch them off. */
const QUIET_NETWORK_FLAGS = [
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchChromium(): Promise<Browser> {
  const executablePath = await sparticuzChromium.executablePath();
  return chromium.launch({
    executablePath,
    args: [...sparticuzChromium.args, ...QUIET_NETWORK_FLAGS],
  });
}
