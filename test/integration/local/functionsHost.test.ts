import { request as httpRequest, type IncomingMessage } from "node:http";
import type { EventGridEvent, HttpRequest, InvocationContext } from "@azure/functions";
import { afterEach, describe, expect, it } from "vitest";
import {
  MAX_BODY_BYTES,
  type RunningFunctionsHost,
  startFunctionsHost,
} from "../../../sandbox/local/functionsHost.js";
import type { FunctionDefinition } from "../../../src/hosting/functionDefinition.js";

const hosts: RunningFunctionsHost[] = [];
afterEach(async () => {
  while (hosts.length > 0) await hosts.pop()?.close();
});

async function start(functions: FunctionDefinition[], settings: Record<string, string> = {}) {
  const lines: string[] = [];
  const host = await startFunctionsHost({
    functions,
    port: 0,
    settings,
    writeLine: (line) => lines.push(line),
  });
  hosts.push(host);
  return { host, lines };
}

function echoFunction(
  calls: { params: Record<string, string>; body: string; context: InvocationContext }[],
): FunctionDefinition {
  return {
    kind: "http",
    name: "echo",
    route: "things/{vault}/{key}/rotate",
    methods: ["POST"],
    authLevel: "function",
    handler: async (request: HttpRequest, context: InvocationContext) => {
      const body = await request.text();
      calls.push({ params: { ...request.params }, body, context });
      context.log("echoed", { key: request.params.key });
      return { status: 202, jsonBody: { vault: request.params.vault, body } };
    },
  };
}

describe("local Functions host", () => {
  it("serves HTTP triggers under /api with function-key auth", async () => {
    const calls: { params: Record<string, string>; body: string; context: InvocationContext }[] = [];
    const { host, lines } = await start([echoFunction(calls)]);
    const url = `${host.url}/api/things/kv1/k1/rotate`;

    const anonymous = await fetch(url, { method: "POST", body: "{}" });
    expect(anonymous.status).toBe(401);

    const withHeader = await fetch(url, {
      method: "POST",
      body: '{"a":1}',
      headers: { "x-functions-key": host.functionKey },
    });
    expect(withHeader.status).toBe(202);
    expect(await withHeader.json()).toEqual({ vault: "kv1", body: '{"a":1}' });

    const withCode = await fetch(`${url}?code=${encodeURIComponent(host.functionKey)}`, { method: "POST" });
    expect(withCode.status).toBe(202);

    const wrongMethod = await fetch(`${url}?code=${host.functionKey}`, { method: "GET" });
    expect(wrongMethod.status).toBe(405);
    expect((await fetch(`${host.url}/api/nothing`)).status).toBe(404);

    expect(calls.map((call) => call.params)).toEqual([
      { vault: "kv1", key: "k1" },
      { vault: "kv1", key: "k1" },
    ]);
    expect(calls[0]?.context.functionName).toBe("echo");
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged).toContainEqual(
      expect.objectContaining({ function: "echo", message: "echoed", key: "k1" }),
    );
  });

  it("accepts Event Grid deliveries: validation handshake, batches and CloudEvents", async () => {
    const received: EventGridEvent[] = [];
    const { host } = await start([
      { kind: "eventGrid", name: "onKey", handler: async (event) => void received.push(event) },
    ]);
    const webhook = host.eventGridWebhook("onKey");
    const withoutKey = await fetch(`${host.url}/runtime/webhooks/eventgrid?functionName=onKey`, {
      method: "POST",
      body: "[]",
    });
    expect(withoutKey.status).toBe(401);

    const validation = await fetch(webhook, {
      method: "POST",
      headers: { "aeg-event-type": "SubscriptionValidation" },
      body: JSON.stringify([
        {
          id: "1",
          eventType: "Microsoft.EventGrid.SubscriptionValidationEvent",
          data: { validationCode: "abc" },
        },
      ]),
    });
    expect(await validation.json()).toEqual({ validationResponse: "abc" });

    const options = await fetch(webhook, {
      method: "OPTIONS",
      headers: { "WebHook-Request-Origin": "eventgrid.azure.net" },
    });
    expect(options.headers.get("webhook-allowed-origin")).toBe("eventgrid.azure.net");

    const batch = await fetch(webhook, {
      method: "POST",
      headers: { "aeg-event-type": "Notification" },
      body: JSON.stringify([
        { id: "a", eventType: "Microsoft.KeyVault.KeyNewVersionCreated", subject: "k", data: {} },
        { id: "b", eventType: "Microsoft.KeyVault.KeyNewVersionCreated", subject: "k", data: {} },
      ]),
    });
    // The real host answers a delivery 202 Accepted once every invocation succeeded.
    expect(batch.status).toBe(202);
    const cloudEvent = await fetch(webhook, {
      method: "POST",
      headers: { "content-type": "application/cloudevents+json" },
      body: JSON.stringify({
        specversion: "1.0",
        id: "c",
        type: "Microsoft.KeyVault.KeyNewVersionCreated",
        source: "/x",
      }),
    });
    expect(cloudEvent.status).toBe(202);
    expect(received.map((event) => event.id)).toEqual(["a", "b", "c"]);

    expect(
      (
        await fetch(`${host.url}/runtime/webhooks/eventgrid?functionName=missing&code=${host.eventGridKey}`, {
          method: "POST",
          body: "[]",
        })
      ).status,
    ).toBe(404);
    expect((await fetch(webhook, { method: "POST", body: "not json" })).status).toBe(400);
  });

  it("answers 500 when an event handler throws, so Event Grid retries", async () => {
    const { host } = await start([
      {
        kind: "eventGrid",
        name: "failing",
        handler: async () => {
          throw new Error("boom");
        },
      },
    ]);
    const response = await fetch(host.eventGridWebhook("failing"), {
      method: "POST",
      body: JSON.stringify([{ id: "a", eventType: "x", data: {} }]),
    });
    expect(response.status).toBe(500);
  });

  it("invokes the events of one delivery concurrently, as the real host does, and answers 202", async () => {
    let running = 0;
    let mostAtOnce = 0;
    const { host } = await start([
      {
        kind: "eventGrid",
        name: "slow",
        handler: async () => {
          running++;
          mostAtOnce = Math.max(mostAtOnce, running);
          // Each invocation waits for the next event's to have started: one after another would never get there.
          const deadline = Date.now() + 20_000;
          while (mostAtOnce < 3 && Date.now() < deadline)
            await new Promise((resolve) => setTimeout(resolve, 10));
          running--;
        },
      },
    ]);
    const response = await fetch(host.eventGridWebhook("slow"), {
      method: "POST",
      body: JSON.stringify(["a", "b", "c"].map((id) => ({ id, eventType: "x", data: {} }))),
    });
    expect(response.status).toBe(202);
    expect(mostAtOnce).toBe(3);
  });

  describe("bodies over the host's limit", () => {
    /** A raw request: the declared length (or chunked), and what is written before waiting for the answer. */
    function send(
      url: string,
      headers: Record<string, string>,
      written: Buffer | undefined,
    ): Promise<{ status: number; body: string }> {
      return new Promise((resolve, reject) => {
        const request = httpRequest(url, { method: "POST", headers }, (response: IncomingMessage) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
          );
        });
        // The host closes the connection after its 413: writing the rest then fails, as it should.
        request.on("error", (error: NodeJS.ErrnoException) => {
          if (error.code !== "ECONNRESET" && error.code !== "EPIPE") reject(error);
        });
        request.flushHeaders();
        if (written) request.write(written);
        // Never ended: the answer must come without the rest of the body.
      });
    }

    it("answers 413 on every route, with or without a key, from Content-Length alone (nothing of the body sent)", async () => {
      const calls: { params: Record<string, string>; body: string; context: InvocationContext }[] = [];
      const { host, lines } = await start([
        echoFunction(calls),
        { kind: "eventGrid", name: "onKey", handler: async () => undefined },
      ]);
      const declared = { "content-type": "application/json", "content-length": String(5 * 1024 * 1024) };
      const urls = [
        `${host.url}/api/things/kv1/k1/rotate`,
        `${host.url}/api/things/kv1/k1/rotate?code=${encodeURIComponent(host.functionKey)}`,
        host.eventGridWebhook("onKey"),
        `${host.url}/runtime/webhooks/eventgrid?functionName=onKey`,
        `${host.url}/admin/functions/onKey`,
        `${host.url}/nothing/here`,
      ];
      for (const url of urls) {
        const answer = await send(url, declared, undefined);
        expect(answer.status, url).toBe(413);
        expect(answer.body).toContain(String(MAX_BODY_BYTES));
      }
      expect(calls).toEqual([]);
      for (const line of lines) expect(line).not.toContain(host.functionKey);
    });

    it("answers 413 for a body without Content-Length once it crosses the limit, before it ends", async () => {
      const { host } = await start([{ kind: "eventGrid", name: "onKey", handler: async () => undefined }]);
      const answer = await send(
        host.eventGridWebhook("onKey"),
        { "content-type": "application/json", "transfer-encoding": "chunked" },
        Buffer.alloc(MAX_BODY_BYTES + 64 * 1024, 0x20),
      );
      expect(answer.status).toBe(413);
    });
  });

  it("runs timers on their NCRONTAB schedule, resolved from settings, and on demand via the admin API", async () => {
    let runs = 0;
    const { host } = await start(
      [{ kind: "timer", name: "tick", schedule: "%TICK_SCHEDULE%", handler: async () => void runs++ }],
      { TICK_SCHEDULE: "*/1 * * * * *" },
    );
    // Generous deadlines: a loaded machine may run the 1-second schedule late, never early.
    const deadline = Date.now() + 30_000;
    while (runs < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(runs).toBeGreaterThanOrEqual(2);

    const before = runs;
    const denied = await fetch(`${host.url}/admin/functions/tick`, { method: "POST", body: "{}" });
    expect(denied.status).toBe(401);
    const accepted = await fetch(`${host.url}/admin/functions/tick`, {
      method: "POST",
      headers: { "x-functions-key": host.masterKey },
      body: "{}",
    });
    expect(accepted.status).toBe(202);
    expect((await fetch(`${host.url}/admin/host/status`)).status).toBe(401);
    const status = await fetch(`${host.url}/admin/host/status`, {
      headers: { "x-functions-key": host.masterKey },
    });
    expect(await status.json()).toEqual({ state: "Running", functions: ["tick"] });
    const until = Date.now() + 30_000;
    while (runs === before && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(runs).toBeGreaterThan(before);
  });

  it("does not run a schedule whose next run is past Node's 24.8-day timer limit", async () => {
    let runs = 0;
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    // The first of the month after next: always more than 28 days away. Before the fix, Node
    // fired the overflowing timeout after 1 ms, and again after each run.
    const monthAfterNext = ((new Date().getUTCMonth() + 2) % 12) + 1;
    process.on("warning", onWarning);
    try {
      const { host } = await start([
        {
          kind: "timer",
          name: "far",
          schedule: `0 0 0 1 ${monthAfterNext} *`,
          handler: async () => void runs++,
        },
      ]);
      // Waiting can only let a wrong early run show; it cannot make a right host fail.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await host.close();
    } finally {
      process.off("warning", onWarning);
    }
    expect(runs).toBe(0);
    expect(warnings).not.toContain("TimeoutOverflowWarning");
  });

  it("refuses a timer whose schedule setting is missing", async () => {
    await expect(
      startFunctionsHost({
        functions: [{ kind: "timer", name: "tick", schedule: "%NOPE%", handler: async () => undefined }],
        port: 0,
        settings: {},
        writeLine: () => undefined,
      }),
    ).rejects.toThrow(/NOPE/);
  });
});
