/**
 * The contract between the sandbox's HTTPS server and the services it hosts. The server
 * parses each request, applies fault rules, and hands it to the first service whose
 * `matches(host)` is true. Services answer with a `SandboxResponse`; they never touch the
 * socket. The server records every exchange (for conformance tests) when asked to.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { SandboxStore } from "./store.js";

export interface SandboxRequest {
  method: string;
  /** Lower-case host name without port, e.g. "kv1.vault.azure.net". */
  host: string;
  /** Decoded path without query, e.g. "/keys/k/versions". */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Peer address as the sandbox sees it (for CallerIPAddress). */
  remoteAddress: string;
}

export interface SandboxResponse {
  status: number;
  headers?: Record<string, string>;
  /** Serialised as JSON unless it is a string or Buffer (sent as is). */
  body?: unknown;
}

export interface SandboxService {
  readonly name: string;
  matches(host: string): boolean;
  handle(request: SandboxRequest, store: SandboxStore): Promise<SandboxResponse>;
}

/** One request/response pair, kept when recording is on. */
export interface SandboxExchange {
  service: string;
  method: string;
  host: string;
  path: string;
  query: Record<string, string>;
  requestHeaders: IncomingHttpHeaders;
  requestBody: unknown;
  status: number;
  responseHeaders: Record<string, string>;
  responseBody: unknown;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): SandboxResponse {
  return { status, headers: { "content-type": "application/json; charset=utf-8", ...headers }, body };
}

/** Parse a JSON request body; undefined for an empty body; throws BadRequestError when malformed. */
export function readJson(request: SandboxRequest): unknown {
  if (request.body.length === 0) return undefined;
  try {
    return JSON.parse(request.body.toString("utf8"));
  } catch (error) {
    throw new SandboxHttpError(
      400,
      "BadRequest",
      `The request body is not valid JSON: ${(error as Error).message}`,
    );
  }
}

/**
 * An error a service throws to answer with `status`; the service's own error shape is
 * produced by the service (see `toResponse`), the server only uses the generic ARM shape
 * `{ "error": { "code", "message" } }` for anything not caught.
 */
export class SandboxHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "SandboxHttpError";
  }
}
