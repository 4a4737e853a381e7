/**
 * The local Functions host serving the real functions over the sandbox (issue 9):
 *   7  1,000 events in one Event Grid delivery (a few keys, many duplicates, two casings) are
 *      answered 2xx before the deadline the service enforces, every distinct key is reconciled,
 *      nothing answers 500 and no lease is left behind; the same for 1,000 events of one key
 *   6  a realistic session (rotate with ?code= and with x-functions-key, a bad key, an oversized
 *      body, an event delivery with the eventgrid_extension key, an admin call) logs no key
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allFunctions } from "../../../functions/index.js";
import { type RunningFunctionsHost, startFunctionsHost } from "../../../sandbox/local/functionsHost.js";
import { keyRefId } from "../../../src/model.js";
import { structuredLog } from "../../../src/rotation/log.js";
import { EVENT_ANSWER_DEADLINE_MS } from "../../../src/rotation/rotationService.js";
import { leasesLeft, tableOfSettings } from "../../support/leases.js";
import { EngineWorld, sleep } from "../engine/engineWorld.js";

/** Event Grid waits this long for a delivery's answer, then sends the whole delivery again. */
const EVENT_GRID_DEADLINE_MS = 30_000;

let world: EngineWorld;
let host: RunningFunctionsHost;
const hostLines: string[] = [];
const serviceLines: string[] = [];

beforeAll(async () => {
  world = await EngineWorld.start({
    log: structuredLog({
      info: (line) => serviceLines.push(line),
      warn: (line) => serviceLines.push(line),
      error: (line) => serviceLines.push(line),
    }),
  });
  host = await startFunctionsHost({
    functions: allFunctions,
    port: 0,
    settings: world.runtime.settings.timerSchedule
      ? { ROTATOR_TIMER_SCHEDULE: world.runtime.settings.timerSchedule }
      : {},
    timers: false,
    writeLine: (line) => hostLines.push(line),
  });
});

afterAll(async () => {
  await host?.close();
  await world?.close();
});

function deliveryOf(keys: readonly string[], count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, index) => {
    const key = keys[index % keys.length] ?? "adx-key";
    const event = world.newVersionEvent("kv-cmk-1", key, world.newestVersion("kv-cmk-1", key.toLowerCase()));
    return event;
  });
}

async function deliver(events: unknown[]): Promise<{ status: number; elapsedMs: number }> {
  const started = Date.now();
  const response = await fetch(host.eventGridWebhook("keyVersionCreated"), {
    method: "POST",
    headers: { "content-type": "application/json", "aeg-event-type": "Notification" },
    body: JSON.stringify(events),
  });
  await response.arrayBuffer();
  return { status: response.status, elapsedMs: Date.now() - started };
}

/** Whether the service planned a run covering `keyId` since line `from` of its log. */
function reconciledSince(from: number, keyId: string): boolean {
  return serviceLines.slice(from).some((line) => {
    const record = JSON.parse(line) as { message?: string; keys?: string };
    return record.message === "plan made" && (record.keys ?? "").split(",").includes(keyId);
  });
}

async function eventually(
  done: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await sleep(200);
  }
}

function noHostFailure(from: number): void {
  const failures = hostLines
    .slice(from)
    .filter((line) => /"level":"error"/.test(line) || /"status":5\d\d/.test(line));
  expect(failures).toEqual([]);
}

describe("a large Event Grid delivery through the local host", () => {
  it("answers 1,000 events for a few keys within Event Grid's deadline, reconciling each key", async () => {
    const keys = ["adx-key", "cosmos-key", "cassandra-backup-key", "ADX-KEY", "Cosmos-Key"];
    const fromService = serviceLines.length;
    const fromHost = hostLines.length;
    const answer = await deliver(deliveryOf(keys, 1_000));
    expect(answer.status).toBe(202);
    // Each invocation waits at most EVENT_ANSWER_DEADLINE_MS for its key's run; all start at once.
    expect(EVENT_ANSWER_DEADLINE_MS).toBeLessThan(EVENT_GRID_DEADLINE_MS);
    expect(answer.elapsedMs).toBeLessThan(EVENT_GRID_DEADLINE_MS);
    for (const keyId of new Set(
      keys.map((key) => keyRefId({ vaultUrl: "", vaultName: "kv-cmk-1", hostKind: "vault", keyName: key })),
    )) {
      await eventually(() => reconciledSince(fromService, keyId), `a reconcile of ${keyId}`);
    }
    noHostFailure(fromHost);
    await eventually(
      async () => (await leasesLeft(tableOfSettings(world.runtime.settings))).length === 0,
      "no lease left",
    );
  });

  it("answers 1,000 events for one key without a 500, and leaves no lease", async () => {
    const fromService = serviceLines.length;
    const fromHost = hostLines.length;
    const answer = await deliver(deliveryOf(["adx-key"], 1_000));
    expect(answer.status).toBe(202);
    expect(answer.elapsedMs).toBeLessThan(EVENT_GRID_DEADLINE_MS);
    await eventually(
      () => reconciledSince(fromService, "kv-cmk-1/adx-key"),
      "a reconcile of kv-cmk-1/adx-key",
    );
    const runs = serviceLines.slice(fromService).filter((line) => line.includes('"message":"plan made"'));
    // Coalesced: the first event's run and one follow-up for all the others.
    expect(runs.length).toBeLessThanOrEqual(2);
    noHostFailure(fromHost);
    await eventually(
      async () => (await leasesLeft(tableOfSettings(world.runtime.settings))).length === 0,
      "no lease left",
    );
  });
});

/** A raw POST whose declared body is never sent: the host must answer from Content-Length alone. */
function postDeclaringHugeBody(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: "POST", headers: { ...headers, "content-length": String(6 * 1024 * 1024) } },
      (response: IncomingMessage) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
      },
    );
    request.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "ECONNRESET" && error.code !== "EPIPE") reject(error);
    });
    request.flushHeaders();
  });
}

describe("no secret in any log line", () => {
  it("a realistic session through the host logs none of the host's keys", async () => {
    const rotate = `${host.url}/api/keys/kv-cmk-1/adx-key/rotate`;
    const body = JSON.stringify({ reason: "red team: secrets in logs", force: true });
    const json = { "content-type": "application/json" };

    const withCode = await fetch(`${rotate}?code=${encodeURIComponent(host.functionKey)}`, {
      method: "POST",
      headers: json,
      body,
    });
    expect(withCode.status).toBe(202);
    const withHeader = await fetch(rotate, {
      method: "POST",
      headers: { ...json, "x-functions-key": host.functionKey },
      body,
    });
    expect([202, 409]).toContain(withHeader.status);
    const badKey = await fetch(`${rotate}?code=not-${host.functionKey}`, {
      method: "POST",
      headers: json,
      body,
    });
    expect(badKey.status).toBe(401);
    expect(await postDeclaringHugeBody(`${rotate}?code=${encodeURIComponent(host.functionKey)}`, json)).toBe(
      413,
    );
    expect(await postDeclaringHugeBody(host.eventGridWebhook("keyVersionCreated"), json)).toBe(413);
    const tooLargeForTheFunction = await fetch(rotate, {
      method: "POST",
      headers: { ...json, "x-functions-key": host.functionKey },
      body: JSON.stringify({ reason: "r".repeat(5_000) }),
    });
    expect(tooLargeForTheFunction.status).toBe(413);
    const keysView = await fetch(`${host.url}/api/keys?code=${encodeURIComponent(host.functionKey)}`);
    expect(keysView.status).toBe(200);
    const unknownVault = await fetch(
      `${host.url}/api/keys/kv-nope/k?code=${encodeURIComponent(host.functionKey)}`,
    );
    expect(unknownVault.status).toBe(404);
    const delivery = await deliver(deliveryOf(["adx-key"], 3));
    expect(delivery.status).toBe(202);
    const admin = await fetch(`${host.url}/admin/functions/retireOldVersions`, {
      method: "POST",
      headers: { "x-functions-key": host.masterKey },
      body: "{}",
    });
    expect(admin.status).toBe(202);
    await eventually(
      () =>
        hostLines.some(
          (line) => line.includes('"function":"retireOldVersions"') && line.includes("reconcile done"),
        ),
      "the admin-started timer run",
    );

    const secrets = {
      functionKey: host.functionKey,
      masterKey: host.masterKey,
      eventGridKey: host.eventGridKey,
      eventsTopicKey: world.runtime.settings.eventsTopicKey ?? "",
    };
    const lines = [...hostLines, ...serviceLines];
    expect(lines.length).toBeGreaterThan(50);
    for (const [name, secret] of Object.entries(secrets)) {
      expect(secret.length, name).toBeGreaterThan(10);
      const leaking = lines.filter(
        (line) => line.includes(secret) || line.includes(encodeURIComponent(secret)),
      );
      expect(leaking, `${name} in the log`).toEqual([]);
    }
    // The paths were logged, with their keys redacted.
    expect(hostLines.some((line) => line.includes("code=[redacted]"))).toBe(true);
  });
});
