/** Raw requests to the Azure host names a sandbox serves, for tests that need status codes and headers. */
import { urlToHttpOptions } from "node:url";
import { type SandboxAnswer, sendJsonRequest } from "../../../../sandbox/controlClient.js";
import type { RunningSandbox } from "../../../../sandbox/server.js";
import { sandboxAgent } from "../../../../sandbox/transport.js";

export async function rawRequest(
  sandbox: RunningSandbox,
  method: string,
  url: string,
  options: { body?: unknown; headers?: Record<string, string>; servername?: string } = {},
): Promise<SandboxAnswer> {
  const agent = sandboxAgent(sandbox.port, sandbox.caPem);
  try {
    return await sendJsonRequest(
      {
        ...urlToHttpOptions(new URL(url)),
        method,
        agent,
        ...(options.servername ? { servername: options.servername } : {}),
        ...(options.headers ? { headers: options.headers } : {}),
      },
      options.body,
    );
  } finally {
    agent.destroy();
  }
}
