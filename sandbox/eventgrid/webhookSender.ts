/**
 * How the sandbox's Event Grid reaches a webhook: one HTTP(S) request, a bounded answer.
 * Kept behind a function type so the delivery logic is unit-tested without a network.
 */
import http from "node:http";
import https from "node:https";

export interface WebhookRequest {
  method: "POST" | "OPTIONS";
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface WebhookResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: string;
}

/** Sends one request; rejects on connection errors and timeouts. */
export type WebhookSender = (request: WebhookRequest) => Promise<WebhookResponse>;

/** Real Event Grid waits 30 s for a webhook; the sandbox is impatient so tests stay fast. */
const WEBHOOK_TIMEOUT_MS = 5000;
/** Only the start of an answer matters (a validation response); the rest is discarded. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export const httpWebhookSender: WebhookSender = (request) =>
  new Promise((resolve, reject) => {
    const url = new URL(request.url);
    const send = url.protocol === "https:" ? https.request : http.request;
    const headers: Record<string, string | number> = { ...request.headers };
    if (request.body !== undefined) headers["content-length"] = Buffer.byteLength(request.body);
    const outgoing = send(
      url,
      { method: request.method, headers, timeout: WEBHOOK_TIMEOUT_MS },
      (response) => {
        const chunks: Buffer[] = [];
        let received = 0;
        response.on("data", (chunk: Buffer) => {
          if (received < MAX_RESPONSE_BYTES) chunks.push(chunk);
          received += chunk.length;
        });
        response.on("end", () => {
          const responseHeaders: Record<string, string> = {};
          for (const [name, value] of Object.entries(response.headers)) {
            if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(", ") : value;
          }
          resolve({
            status: response.statusCode ?? 0,
            headers: responseHeaders,
            body: Buffer.concat(chunks).toString("utf8"),
          });
        });
        response.on("error", reject);
      },
    );
    outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer within ${WEBHOOK_TIMEOUT_MS} ms`)));
    outgoing.on("error", reject);
    outgoing.end(request.body);
  });
