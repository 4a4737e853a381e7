/**
 * The one HTTPS client for talking to a running sandbox from outside it: the control API
 * (`/_sandbox/...` on 127.0.0.1) and raw requests to the Azure host names it serves.
 * Every status resolves; callers decide what an error status means for them.
 */
import type { IncomingHttpHeaders } from "node:http";
import { type RequestOptions, request } from "node:https";

export interface SandboxAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body parsed as JSON; the text when it is not JSON; undefined when it is empty. */
  body: unknown;
  text: string;
}

/** Where a sandbox listens and the CA its certificates chain to (a RunningSandbox has both). */
export interface SandboxEndpoint {
  port: number;
  caPem: string;
}

/** Sends one HTTPS request, with `body` as JSON when given, and reads the whole answer. */
export function sendJsonRequest(options: RequestOptions, body?: unknown): Promise<SandboxAnswer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = {
    ...(payload === undefined
      ? {}
      : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const outgoing = request({ ...options, headers }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({
          status: incoming.statusCode ?? 0,
          headers: incoming.headers,
          body: parseJsonOrText(text),
          text,
        });
      });
      incoming.on("error", reject);
    });
    outgoing.on("error", reject);
    outgoing.end(payload);
  });
}

/** One call to the sandbox control API on 127.0.0.1, trusting the sandbox CA. */
export function sandboxControl(
  sandbox: SandboxEndpoint,
  method: string,
  path: string,
  body?: unknown,
): Promise<SandboxAnswer> {
  return sendJsonRequest({ host: "127.0.0.1", port: sandbox.port, method, path, ca: sandbox.caPem }, body);
}

function parseJsonOrText(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
