/**
 * The dashboard in a real browser: the stack in process (sandbox, Azurite, the runtime and
 * the local Functions host on a free port), the page opened in headless Chromium (the
 * `@sparticuz/chromium` devDependency, see test/support/browser.ts), a key rotated over HTTP with the function key, and the
 * page checked before and after it refreshes itself (a versionless cluster stopped before the
 * rotation shows as a consumer-stopped hold with what to do). Keeps test-artifacts/dashboard.png.
 */
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allFunctions } from "../../functions/index.js";
import { applyStateChange, parseStateChange } from "../../sandbox/consumers/consumerLifecycle.js";
import { type RunningFunctionsHost, startFunctionsHost } from "../../sandbox/local/functionsHost.js";
import { type SandboxEnvironment, startSandboxEnvironment } from "../../sandbox/local/sandboxEnvironment.js";
import { silentLog } from "../../src/rotation/log.js";
import { installRuntime, uninstallRuntime } from "../../src/runtime.js";
import { launchChromium } from "../support/browser.js";

const ARTIFACTS = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));
const KEY_ID = "kv-cmk-1/adx-key";
const PINNED = "adx-pinned";

let environment: SandboxEnvironment | undefined;
let host: RunningFunctionsHost | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  environment = await startSandboxEnvironment({ log: () => undefined });
  // Repoints finish in a fraction of a second, so the page shows them within a refresh or two.
  environment.sandbox.store.latency.lroDurationMs = 300;
  installRuntime({ transport: environment.transport, env: environment.env, log: silentLog });
  host = await startFunctionsHost({
    functions: allFunctions,
    port: 0,
    timers: false,
    writeLine: () => undefined,
  });
  browser = await launchChromium();
});

afterAll(async () => {
  // Each part is closed even when closing another one fails.
  await browser?.close().catch(() => undefined);
  await host?.close().catch(() => undefined);
  uninstallRuntime();
  await environment?.close();
});

function running(): { host: RunningFunctionsHost; browser: Browser } {
  if (!host || !browser) throw new Error("the stack did not start: see the beforeAll error");
  return { host, browser };
}

function keySection(page: Page): Locator {
  return page.locator(`[data-testid="key"][data-key-id="${KEY_ID}"]`);
}

function consumerRow(page: Page, name: string): Locator {
  return keySection(page).locator(`[data-testid="consumer-row"][data-consumer-id$="/${name}" i]`);
}

describe("dashboard in headless Chromium", () => {
  it("refuses a request without the function key", async () => {
    const answer = await fetch(`${running().host.url}/api/dashboard`);
    expect(answer.status).toBe(401);
  });

  it("shows versions, consumers and holds, then the rotation after it refreshes itself", async () => {
    const { host, browser } = running();
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    // Generous waits for a loaded machine (the page refreshes every 5 s; repoints take a few).
    page.setDefaultTimeout(90_000);
    try {
      const url = `${host.url}/api/dashboard?code=${encodeURIComponent(host.functionKey)}`;
      const response = await page.goto(url);
      expect(response?.status()).toBe(200);
      expect(response?.headers()["content-type"]).toBe("text/html; charset=utf-8");
      await expect(page.title()).resolves.toBe("cmk-rotator dashboard");

      // Before: two versions, the pinned cluster on the target, the old version held.
      const section = keySection(page);
      await section.waitFor();
      const versionRows = section.locator('[data-testid="version-row"]');
      expect(await versionRows.count()).toBe(2);
      const before = await section.getAttribute("data-key-id");
      expect(before).toBe(KEY_ID);
      const targetBefore = await versionRows.first().getAttribute("data-version");
      expect(await versionRows.first().locator('[data-testid="version-state"]').textContent()).toBe("target");
      expect(await consumerRow(page, PINNED).getAttribute("data-status")).toBe("on-target");
      expect(
        await consumerRow(page, "adx-latest").locator('[data-testid="pinned-version"]').textContent(),
      ).toBe("follows newest");
      const oldVersion = await versionRows.nth(1).getAttribute("data-version");
      const hold = section.locator(`[data-testid="hold"][data-version="${oldVersion}"]`);
      await expect(hold.count()).resolves.toBe(1);
      // A person sees why it is held: the reason code and its sentence.
      const reason = await hold.getAttribute("data-reason");
      expect(reason).toMatch(/^[a-z-]+$/);
      expect(await hold.textContent()).toContain(reason ?? "?");
      expect(((await hold.locator("div").textContent()) ?? "").length).toBeGreaterThan(20);
      // And the audit evidence of the key, with the pipeline state in words.
      const evidence = section.locator('[data-testid="evidence"]');
      expect(await evidence.getAttribute("data-pipeline")).toMatch(
        /^(proven-current|not-proven|history-too-short)$/,
      );
      expect(await evidence.textContent()).toContain("Canary seen");
      await expect(section.locator('[data-testid="no-journal"]').count()).resolves.toBe(1);

      // The versionless cluster stops (as Azure Data Explorer's auto-stop does) before the rotation.
      const store = environment?.sandbox.store;
      if (!store) throw new Error("no sandbox");
      const latestId = [...store.consumers.values()].find((consumer) =>
        consumer.id.endsWith("/adx-latest"),
      )?.id;
      if (!latestId) throw new Error("no adx-latest in the default estate");
      applyStateChange(store, parseStateChange(store, { id: latestId, state: "Stopped" }));

      // Rotate over HTTP with the function key, as an operator would.
      const rotation = await fetch(`${host.url}/api/keys/kv-cmk-1/adx-key/rotate`, {
        method: "POST",
        headers: { "x-functions-key": host.functionKey, "content-type": "application/json" },
        body: JSON.stringify({ reason: "dashboard browser test" }),
      });
      expect(rotation.status).toBe(202);
      const answer = (await rotation.json()) as { newVersion: string };
      expect(answer.newVersion).toMatch(/^[0-9a-f]{32}$/);

      // After: the page reloads itself (same URL, function key kept) and shows the new version.
      await page.waitForSelector(
        `[data-key-id="${KEY_ID}"] [data-testid="version-row"][data-version="${answer.newVersion}"]`,
        { timeout: 90_000 },
      );
      expect(page.url()).toContain(`code=${encodeURIComponent(host.functionKey)}`);
      expect(await keySection(page).locator('[data-testid="version-row"]').count()).toBe(3);
      const newest = keySection(page).locator('[data-testid="version-row"]').first();
      expect(await newest.getAttribute("data-version")).toBe(answer.newVersion);
      expect(await newest.locator('[data-testid="version-state"]').textContent()).toBe("target");
      const previous = keySection(page).locator(
        `[data-testid="version-row"][data-version="${targetBefore}"]`,
      );
      expect(await previous.locator('[data-testid="version-state"]').textContent()).toBe("compromised");

      // The pinned cluster is repointed (or still on its way: lagging/busy), and the journal says so.
      const status = await consumerRow(page, PINNED).getAttribute("data-status");
      expect(["on-target", "lags", "busy"]).toContain(status);
      await page.waitForFunction(
        ({ keyId, version }) => {
          const row = document.querySelector(
            `[data-key-id="${keyId}"] [data-testid="consumer-row"][data-consumer-id$="/adx-pinned" i]`,
          );
          return (
            row?.getAttribute("data-status") === "on-target" && row.textContent?.includes(version.slice(0, 8))
          );
        },
        { keyId: KEY_ID, version: answer.newVersion },
        { timeout: 90_000 },
      );
      // The previous version is held for the stopped cluster, in words a person acts on.
      const stoppedHold = keySection(page).locator(
        `[data-testid="hold"][data-version="${targetBefore}"][data-reason="consumer-stopped"]`,
      );
      await stoppedHold.waitFor({ timeout: 30_000 });
      expect(await stoppedHold.textContent()).toContain("kusto adx-latest is Stopped");
      expect(await stoppedHold.locator('[data-testid="hold-advice"]').textContent()).toContain(
        "start the stopped consumer",
      );
      expect(await consumerRow(page, "adx-latest").locator('[data-testid="run-state"]').textContent()).toBe(
        "stopped",
      );
      const journal = keySection(page).locator('[data-testid="journal-row"]');
      await expect(journal.count()).resolves.toBeGreaterThan(0);
      await expect(
        keySection(page).locator('[data-testid="journal-row"][data-action="create-version"]').count(),
      ).resolves.toBe(1);

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
    } finally {
      await page.close();
    }
  });
});
