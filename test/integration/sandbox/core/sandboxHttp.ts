/** A tiny HTTPS client for sandbox tests that need raw status codes and headers. */
import { request } from "node:https";
import type { RunningSandbox } from "../../../../src/sandbox/server.js";
import { sandboxAgent } from "../../../../src/sandbox/transport.js";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

export async function rawRequest(
  sandbox: RunningSandbox,
  method: string,
  url: string,
  options: { body?: unknown; headers?: Record<string, string>; servername?: string } = {},
): Promise<RawResponse> {
  const agent = sandboxAgent(sandbox.port, sandbox.caPem);
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  try {
    return await new Promise<RawResponse>((resolve, reject) => {
      const outgoing = request(
        url,
        {
          method,
          agent,
          ...(options.servername ? { servername: options.servername } : {}),
          headers: {
            ...(payload
              ? { "content-type": "application/json", "content-length": String(payload.length) }
              : {}),
            ...options.headers,
          },
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
          incoming.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let body: unknown = text;
            try {
              body = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON: keep the text
            }
            resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body, text });
          });
          incoming.on("error", reject);
        },
      );
      outgoing.on("error", reject);
      outgoing.end(payload);
    });
  } finally {
    agent.destroy();
  }
}
