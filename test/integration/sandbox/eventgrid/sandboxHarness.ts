/**
 * What the Event Grid and consumer integration tests share: a sandbox on a fast estate,
 * a webhook receiver on 127.0.0.1, and a poller.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import type { Estate } from "../../../../sandbox/estate.js";
import { defaultEstate } from "../../../../sandbox/seed.js";
import { type RunningSandbox, startSandbox } from "../../../../sandbox/server.js";

export const VAULT_URL = "https://kv-cmk-1.vault.azure.net/";
export const HSM_URL = "https://hsm-cmk-1.managedhsm.azure.net/";
export const SUBSCRIPTION = "00000000-0000-0000-0000-000000000001";
export const TOPIC_ENDPOINT = "https://rotator-events.westeurope-1.eventgrid.azure.net/api/events";

/** The default estate with one-second simulation steps and the rotator allowed to publish events. */
export function fastEstate(): Estate {
  const estate = defaultEstate();
  estate.simulation = { unwrapIntervalSeconds: 1, defaultLagSeconds: 1 };
  estate.roleAssignments.push({
    principal: "rotator",
    role: "EventGrid Data Sender",
    scope: `/subscriptions/${SUBSCRIPTION}`,
  });
  return estate;
}

export function startFastSandbox(): Promise<RunningSandbox> {
  return startSandbox({ estate: fastEstate() });
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A webhook on 127.0.0.1 that passes both validation handshakes and answers notifications
 * with 200, except for the statuses queued per path in `failNext`.
 */
export async function startWebhookReceiver() {
  const received: ReceivedRequest[] = [];
  const failNext = new Map<string, number[]>();
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const path = request.url ?? "";
      received.push({ method: request.method ?? "", path, headers: request.headers, body });
      if (request.method === "OPTIONS") {
        response.writeHead(200, { "webhook-allowed-origin": "eventgrid.azure.net" }).end();
        return;
      }
      if (request.headers["aeg-event-type"] === "SubscriptionValidation") {
        const [event] = JSON.parse(body) as { data: { validationCode: string } }[];
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ validationResponse: event?.data.validationCode }));
        return;
      }
      const status = failNext.get(path)?.shift() ?? 200;
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    failNext,
    notifications: (path: string) =>
      received.filter((each) => each.path === path && each.headers["aeg-event-type"] === "Notification"),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
