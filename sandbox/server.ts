/**
 * The sandbox: one HTTPS server on 127.0.0.1 serving every registered service under the
 * real Azure host names. Per request: read the body, apply fault rules, dispatch to the
 * first service whose host matches, serialise, and record the exchange when asked to.
 * Background loops (consumers, Event Grid delivery, long-running operations) tick every
 * 250 ms.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { AzureTransport } from "../src/azure/transport.js";
import type { Estate } from "./estate.js";
import { faultResponseBody, takeTransportFault } from "./faults.js";
import { SandboxHttpError, type SandboxRequest, type SandboxResponse, type SandboxService } from "./http.js";
import type { SandboxClock } from "./model.js";
import { defaultStateDir } from "./projectPaths.js";
import { sandboxLoops, sandboxServices } from "./registry.js";
import { defaultEstate, loadEstateFile, seedStore } from "./seed.js";
import { SandboxStore } from "./store.js";
import { issueLeafCertificate, loadOrCreateCa, sandboxHostNames } from "./tls.js";
import { sandboxTransport } from "./transport.js";

export interface StartSandboxOptions {
  /** 0 = a random free port (default). */
  port?: number;
  estate?: Estate;
  estateFile?: string;
  clock?: SandboxClock;
  /** Where the CA is kept; default `<repo>/.sandbox`. */
  stateDir?: string;
  /** Tick the registered background loops (default true). */
  backgroundLoops?: boolean;
  /** Receives structured log entries; default: errors only, as JSON lines on stderr. */
  log?: SandboxLogger;
}

export interface RunningSandbox {
  port: number;
  caFile: string;
  caPem: string;
  stateUrl: string;
  store: SandboxStore;
  /** A transport for the estate identity `identityName` (default "rotator"). */
  transport(identityName?: string): AzureTransport;
  close(): Promise<void>;
}

export interface SandboxLogEntry {
  level: "info" | "warn" | "error";
  msg: string;
  [field: string]: unknown;
}

export type SandboxLogger = (entry: SandboxLogEntry) => void;

const errorsToStderr: SandboxLogger = (entry) => {
  if (entry.level === "error")
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
};

const MAX_BODY_BYTES = 16 * 1024 * 1024;
const LOOP_INTERVAL_MS = 250;
/** Hosts of the control API: faults never apply to it, so a test can always clear them. */
const CONTROL_HOSTS = new Set(["localhost", "127.0.0.1"]);

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > MAX_BODY_BYTES)
      throw new SandboxHttpError(413, "RequestEntityTooLarge", "The request body exceeds 16 MiB.");
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function parseRequest(request: IncomingMessage, body: Buffer): SandboxRequest {
  const hostHeader = request.headers.host ?? "localhost";
  const host = hostHeader
    .replace(/:\d+$/, "")
    .replace(/^\[|\]$/g, "")
    .toLowerCase();
  const url = new URL(request.url ?? "/", "https://sandbox.invalid");
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    throw new SandboxHttpError(
      400,
      "BadRequest",
      `The request path ${url.pathname} is not correctly percent-encoded.`,
    );
  }
  return {
    method: (request.method ?? "GET").toUpperCase(),
    host,
    path,
    query: url.searchParams,
    headers: request.headers,
    body,
    remoteAddress: (request.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, ""),
  };
}

function errorResponse(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): SandboxResponse {
  return {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
    body: { error: { code, message } },
  };
}

function serialise(response: SandboxResponse): {
  headers: Record<string, string>;
  payload: Buffer | undefined;
} {
  const headers: Record<string, string> = { ...(response.headers ?? {}) };
  const body = response.body;
  let payload: Buffer | undefined;
  if (body === undefined || body === null) payload = undefined;
  else if (Buffer.isBuffer(body)) payload = body;
  else if (typeof body === "string") payload = Buffer.from(body, "utf8");
  else {
    payload = Buffer.from(JSON.stringify(body), "utf8");
    if (!Object.keys(headers).some((name) => name.toLowerCase() === "content-type")) {
      headers["content-type"] = "application/json; charset=utf-8";
    }
  }
  headers["content-length"] = String(payload?.length ?? 0);
  return { headers, payload };
}

function bodyForRecording(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  const text = body.toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function responseBodyForRecording(body: unknown): unknown {
  if (Buffer.isBuffer(body)) return bodyForRecording(body);
  if (typeof body === "string") return bodyForRecording(Buffer.from(body, "utf8"));
  return body === undefined ? undefined : JSON.parse(JSON.stringify(body));
}

class SandboxServer {
  /** The running tick per loop: a loop whose last tick has not finished is skipped, never run twice at once. */
  private readonly inFlightLoops = new Map<string, Promise<void>>();

  constructor(
    private readonly store: SandboxStore,
    private readonly services: readonly SandboxService[],
    private readonly log: SandboxLogger,
  ) {}

  async handle(incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
    const startedAt = Date.now();
    let request: SandboxRequest | undefined;
    let serviceName = "none";
    let response: SandboxResponse;
    try {
      request = parseRequest(incoming, await readBody(incoming));
      const fault = CONTROL_HOSTS.has(request.host) ? undefined : takeTransportFault(this.store, request);
      if (fault?.action.kind === "drop") {
        this.log({
          level: "info",
          msg: "fault: dropping connection",
          method: request.method,
          host: request.host,
          path: request.path,
        });
        incoming.socket.destroy();
        return;
      }
      if (fault?.action.kind === "delay") await sleep(fault.action.ms);
      if (fault?.action.kind === "status") {
        serviceName = "fault";
        const { status, retryAfterSeconds } = fault.action;
        const retryAfter = retryAfterSeconds ?? (status === 429 || status === 503 ? 1 : undefined);
        response = {
          status,
          headers: {
            "content-type": "application/json; charset=utf-8",
            ...(retryAfter !== undefined ? { "retry-after": String(retryAfter) } : {}),
          },
          body: faultResponseBody(fault.action, request.host),
        };
      } else {
        const host = request.host;
        const service = this.services.find((candidate) => candidate.matches(host));
        if (!service) {
          response = errorResponse(
            404,
            "NoSandboxService",
            `The sandbox serves no service for host "${host}" (${request.method} ${request.path}). Served: *.vault.azure.net, *.managedhsm.azure.net, management.azure.com, api.loganalytics.io, Event Grid topic hosts, and the control API on localhost.`,
          );
        } else {
          serviceName = service.name;
          response = await service.handle(request, this.store);
        }
      }
    } catch (error) {
      if (error instanceof SandboxHttpError) {
        response = errorResponse(error.status, error.code, error.message, error.headers);
      } else {
        this.log({
          level: "error",
          msg: "sandbox service failed",
          service: serviceName,
          method: request?.method,
          host: request?.host,
          path: request?.path,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        });
        response = errorResponse(
          500,
          "InternalServerError",
          `The sandbox failed to handle the request: ${String(error)}`,
        );
      }
    }
    const { headers, payload } = serialise(response);
    headers["x-ms-request-id"] ??= randomUUID();
    if (request && this.store.recording) {
      this.store.recording.push({
        service: serviceName,
        method: request.method,
        host: request.host,
        path: request.path,
        query: Object.fromEntries(request.query.entries()),
        requestHeaders: request.headers,
        requestBody: bodyForRecording(request.body),
        status: response.status,
        responseHeaders: headers,
        responseBody: responseBodyForRecording(response.body),
      });
    }
    this.log({
      level: "info",
      msg: "request",
      service: serviceName,
      method: request?.method,
      host: request?.host,
      path: request?.path,
      status: response.status,
      ms: Date.now() - startedAt,
    });
    if (outgoing.destroyed) return;
    outgoing.writeHead(response.status, headers);
    outgoing.end(payload);
  }

  tickLoops(): void {
    for (const loop of sandboxLoops) {
      if (this.inFlightLoops.has(loop.name)) continue;
      const run = (async () => {
        try {
          await loop.tick(this.store);
        } catch (error) {
          this.log({
            level: "error",
            msg: "sandbox background loop failed",
            loop: loop.name,
            error: String(error),
          });
        }
      })();
      this.inFlightLoops.set(loop.name, run);
      void run.finally(() => this.inFlightLoops.delete(loop.name));
    }
  }

  async drainLoops(): Promise<void> {
    await Promise.all([...this.inFlightLoops.values()]);
  }
}

function estateRegions(estate: Estate): string[] {
  return [
    ...estate.vaults.map((vault) => vault.location),
    ...estate.consumers.map((consumer) => consumer.location),
  ];
}

/** Start a sandbox seeded with an estate (the default estate unless told otherwise). */
export async function startSandbox(options: StartSandboxOptions = {}): Promise<RunningSandbox> {
  const log = options.log ?? errorsToStderr;
  const estate =
    options.estate ?? (options.estateFile ? loadEstateFile(options.estateFile) : defaultEstate());
  const store = new SandboxStore(options.clock);
  seedStore(store, estate);

  const stateDir = options.stateDir ?? defaultStateDir;
  const ca = loadOrCreateCa(stateDir);
  const hostNames = sandboxHostNames({
    customTopicHosts: (estate.eventGrid?.customTopics ?? []).map((topic) => topic.host),
    regions: estateRegions(estate),
  });
  const leaf = issueLeafCertificate(ca, hostNames);

  const sandboxServer = new SandboxServer(store, sandboxServices, log);
  const server: Server = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (incoming, outgoing) => {
    void sandboxServer.handle(incoming, outgoing);
  });
  server.on("tlsClientError", (error) =>
    log({ level: "warn", msg: "TLS handshake failed", error: error.message }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  const loopTimer =
    options.backgroundLoops === false
      ? undefined
      : setInterval(() => sandboxServer.tickLoops(), LOOP_INTERVAL_MS);
  loopTimer?.unref();

  const endpoint = { port, caPem: ca.certPem, store };
  let closed: Promise<void> | undefined;
  return {
    port,
    caFile: ca.certFile,
    caPem: ca.certPem,
    stateUrl: `https://localhost:${port}/_sandbox/state`,
    store,
    transport: (identityName = "rotator") => sandboxTransport(endpoint, identityName),
    close() {
      closed ??= (async () => {
        if (loopTimer) clearInterval(loopTimer);
        await sandboxServer.drainLoops();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        log({ level: "info", msg: "sandbox stopped", port });
      })();
      return closed;
    },
  };
}
