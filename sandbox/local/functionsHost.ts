/**
 * A local stand-in for the Azure Functions host, for machines without Core Tools. It serves
 * the same `FunctionDefinition`s that `registerFunction` hands to Azure, at the host's URLs:
 *
 *   /api/<route>                                          HTTP triggers (function keys)
 *   POST /runtime/webhooks/eventgrid?functionName=<name>&code=<eventgrid_extension key>
 *                                                          Event Grid triggers (both schemas)
 *   POST /admin/functions/<name>                           run a non-HTTP function now (master key)
 *   timers                                                 on their 6-field NCRONTAB schedule
 *
 * Each invocation gets an InvocationContext whose logs are JSON lines on stdout.
 */
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { EventGridEvent, HttpResponseInit, LogLevel, Timer } from "@azure/functions";
import { HttpRequest, HttpResponse, InvocationContext } from "../../src/hosting/azureFunctionsRuntime.js";
import type {
  EventGridFunctionDefinition,
  FunctionDefinition,
  HttpFunctionDefinition,
  TimerFunctionDefinition,
} from "../../src/hosting/functionDefinition.js";
import { redactSecrets } from "../../src/rotation/redaction.js";
import { parseNcrontab } from "../../src/schedule/ncrontab.js";
import { matchRoute, parseRouteTemplate, type RouteTemplate } from "./routeTemplate.js";
import { runOnSchedule } from "./timerSchedule.js";

export interface FunctionsHostOptions {
  functions: readonly FunctionDefinition[];
  /** Default 7071; 0 picks a free port. */
  port?: number;
  /** Listen address; default 127.0.0.1. */
  hostname?: string;
  /** App settings used to resolve %NAME% in timer schedules. */
  settings?: Record<string, string | undefined>;
  /** Function key for authLevel "function" (generated when absent). */
  functionKey?: string;
  /** Master key for admin calls (generated when absent). */
  masterKey?: string;
  /** The `eventgrid_extension` system key the Event Grid webhook requires (generated when absent). */
  eventGridKey?: string;
  /** Where log lines go; default stdout. */
  writeLine?: (line: string) => void;
  /** Start timers (default true). */
  timers?: boolean;
}

export interface RunningFunctionsHost {
  url: string;
  port: number;
  functionKey: string;
  masterKey: string;
  eventGridKey: string;
  /** The webhook URL Event Grid delivers to for an Event Grid function, with its system key. */
  eventGridWebhook(functionName: string): string;
  /** Invoke a function by name as the admin endpoint does (tests, CLI). */
  runNow(name: string, input?: string): Promise<void>;
  close(): Promise<void>;
}

interface HttpRoute {
  definition: HttpFunctionDefinition;
  template: RouteTemplate;
}

/** The host's request body limit (the real host's is configurable; this one is what the sandbox needs). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** A request body over the host's limit: answered 413 before the rest is read. */
class BodyTooLargeError extends Error {
  constructor(readonly declared: number | undefined) {
    super(
      declared !== undefined
        ? `Request body of ${declared} bytes is over the limit of ${MAX_BODY_BYTES} bytes`
        : `Request body over the limit of ${MAX_BODY_BYTES} bytes`,
    );
  }
}

export async function startFunctionsHost(options: FunctionsHostOptions): Promise<RunningFunctionsHost> {
  const writeLine = options.writeLine ?? ((line: string) => process.stdout.write(`${line}\n`));
  const functionKey = options.functionKey ?? randomBytes(24).toString("base64url");
  const masterKey = options.masterKey ?? randomBytes(24).toString("base64url");
  const eventGridKey = options.eventGridKey ?? randomBytes(24).toString("base64url");
  const settings = options.settings ?? process.env;
  const byName = new Map<string, FunctionDefinition>();
  for (const definition of options.functions) {
    if (byName.has(definition.name.toLowerCase()))
      throw new Error(`Function "${definition.name}" is defined twice`);
    byName.set(definition.name.toLowerCase(), definition);
  }
  const httpRoutes: HttpRoute[] = options.functions
    .filter((definition): definition is HttpFunctionDefinition => definition.kind === "http")
    .map((definition) => ({ definition, template: parseRouteTemplate(definition.route) }));

  // Every line goes through the service's one redaction: no key, token or `code=` is ever logged.
  const log = (fields: Record<string, unknown>) =>
    writeLine(JSON.stringify(redactSecrets({ time: new Date().toISOString(), ...fields })));

  const contextFor = (definition: FunctionDefinition, triggerType: string): InvocationContext => {
    const invocationId = randomUUID();
    return new InvocationContext({
      invocationId,
      functionName: definition.name,
      logHandler: (level: LogLevel, ...args: unknown[]) =>
        log(logRecord(level, definition.name, invocationId, args)),
      options: { trigger: { type: triggerType, name: definition.name } },
    });
  };

  const invokeEvent = async (definition: EventGridFunctionDefinition, event: EventGridEvent) => {
    const context = contextFor(definition, "eventGridTrigger");
    await definition.handler(event, context);
  };

  const timerRunning = new Set<string>();
  const invokeTimer = async (definition: TimerFunctionDefinition, timer: Timer) => {
    if (timerRunning.has(definition.name)) {
      log({
        level: "warning",
        function: definition.name,
        message: "previous run still in progress; skipping this occurrence",
      });
      return;
    }
    timerRunning.add(definition.name);
    try {
      await definition.handler(timer, contextFor(definition, "timerTrigger"));
    } finally {
      timerRunning.delete(definition.name);
    }
  };

  const keyMatches = (given: string | undefined, expected: string): boolean => {
    if (!given) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  };
  const presentedKey = (request: IncomingMessage, url: URL): string | undefined => {
    const header = request.headers["x-functions-key"];
    return (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get("code") ?? undefined;
  };

  const handleHttpTrigger = async (
    request: IncomingMessage,
    url: URL,
    body: Buffer,
    response: ServerResponse,
  ) => {
    const path = url.pathname.slice("/api".length);
    let matchedPath = false;
    for (const route of httpRoutes) {
      const params = matchRoute(route.template, path);
      if (!params) continue;
      matchedPath = true;
      const method = (request.method ?? "GET").toUpperCase();
      if (!route.definition.methods.some((allowed) => allowed.toUpperCase() === method)) continue;
      if (route.definition.authLevel !== "anonymous") {
        const key = presentedKey(request, url);
        if (!keyMatches(key, functionKey) && !keyMatches(key, masterKey)) {
          sendJson(response, 401, {
            error: "Unauthorized: send the function key in the x-functions-key header or ?code=",
          });
          return;
        }
      }
      const httpRequest = new HttpRequest({
        method,
        url: url.toString(),
        headers: flattenHeaders(request),
        query: Object.fromEntries(url.searchParams.entries()),
        params,
        body: body.length > 0 ? { bytes: body } : undefined,
      });
      const context = contextFor(route.definition, "httpTrigger");
      const started = Date.now();
      const result = await route.definition.handler(httpRequest, context);
      const status = await writeHttpResult(response, result);
      log({
        level: "information",
        function: route.definition.name,
        invocationId: context.invocationId,
        message: "http invocation finished",
        method,
        path: url.pathname,
        status,
        durationMs: Date.now() - started,
      });
      return;
    }
    sendJson(response, matchedPath ? 405 : 404, {
      error: matchedPath
        ? `Method ${request.method} is not allowed on ${url.pathname}`
        : `No function serves ${url.pathname}`,
    });
  };

  const handleEventGridWebhook = async (
    request: IncomingMessage,
    url: URL,
    body: Buffer,
    response: ServerResponse,
  ) => {
    // As the Functions host: the webhook needs the eventgrid_extension system key (or the master key).
    const key = url.searchParams.get("code") ?? headerValue(request, "x-functions-key");
    if (!keyMatches(key ?? undefined, eventGridKey) && !keyMatches(key ?? undefined, masterKey)) {
      sendJson(response, 401, {
        error: "Unauthorized: Event Grid deliveries need ?code=<eventgrid_extension key>",
      });
      return;
    }
    const name = url.searchParams.get("functionName") ?? "";
    const definition = byName.get(name.toLowerCase());
    if (definition?.kind !== "eventGrid") {
      sendJson(response, 404, { error: `No Event Grid function named "${name}"` });
      return;
    }
    // CloudEvents abuse-protection handshake.
    if (request.method === "OPTIONS") {
      const origin = headerValue(request, "webhook-request-origin");
      response.writeHead(200, { "WebHook-Allowed-Origin": origin ?? "*", "WebHook-Allowed-Rate": "*" });
      response.end();
      return;
    }
    if (request.method !== "POST") {
      sendJson(response, 405, { error: "Event Grid deliveries are POST requests" });
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch {
      sendJson(response, 400, { error: "The Event Grid delivery is not valid JSON" });
      return;
    }
    const events = Array.isArray(payload) ? payload : [payload];
    if (events.some((event) => typeof event !== "object" || event === null)) {
      sendJson(response, 400, { error: "Every event in an Event Grid delivery must be a JSON object" });
      return;
    }
    const records = events as Record<string, unknown>[];
    const validation = records.find(
      (event) => event.eventType === "Microsoft.EventGrid.SubscriptionValidationEvent",
    );
    if (validation) {
      const data = validation.data as Record<string, unknown> | undefined;
      const code = typeof data?.validationCode === "string" ? data.validationCode : undefined;
      if (!code) {
        sendJson(response, 400, { error: "SubscriptionValidationEvent without data.validationCode" });
        return;
      }
      log({ level: "information", function: definition.name, message: "Event Grid subscription validated" });
      sendJson(response, 200, { validationResponse: code });
      return;
    }
    // As the real host's Event Grid extension does for a single-dispatch trigger
    // (EventGridExtensionConfigProvider.ProcessEventsAsync in Azure/azure-sdk-for-net): one
    // invocation per event, all started at once, then 202 Accepted when every one succeeded and
    // 500 when any failed (so Event Grid resends the whole delivery).
    const results = await Promise.allSettled(
      records.map((event) => invokeEvent(definition, event as unknown as EventGridEvent)),
    );
    const failures = results.filter(
      (result): result is PromiseRejectedResult => result.status === "rejected",
    );
    if (failures.length === 0) {
      response.writeHead(202);
      response.end();
      return;
    }
    log({
      level: "error",
      function: definition.name,
      message: "Event Grid invocation failed",
      failed: failures.length,
      events: records.length,
      error: errorText(failures[0]?.reason),
    });
    sendJson(response, 500, { error: "The function failed; Event Grid will retry" });
  };

  const runNow = async (name: string, input?: string) => {
    const definition = byName.get(name.toLowerCase());
    if (!definition) throw new Error(`No function named "${name}"`);
    if (definition.kind === "http") throw new Error(`"${name}" is an HTTP function; call it over HTTP`);
    if (definition.kind === "timer") {
      const now = new Date().toISOString();
      await invokeTimer(definition, {
        isPastDue: false,
        schedule: { adjustForDST: false },
        scheduleStatus: { last: now, next: now, lastUpdated: now },
      });
      return;
    }
    const event = input ? (JSON.parse(input) as EventGridEvent) : undefined;
    if (!event) throw new Error(`"${name}" needs an event as input`);
    await invokeEvent(definition, event);
  };

  const handleAdmin = async (request: IncomingMessage, url: URL, body: Buffer, response: ServerResponse) => {
    if (!keyMatches(presentedKey(request, url), masterKey)) {
      sendJson(response, 401, { error: "Admin calls need the master key in the x-functions-key header" });
      return;
    }
    const name = decodeURIComponent(url.pathname.slice("/admin/functions/".length));
    if (request.method !== "POST") {
      sendJson(response, 405, { error: "Use POST to run a function" });
      return;
    }
    let input: string | undefined;
    if (body.length > 0) {
      try {
        const parsed = JSON.parse(body.toString("utf8")) as { input?: unknown };
        input = typeof parsed.input === "string" ? parsed.input : undefined;
      } catch {
        sendJson(response, 400, { error: 'The body must be JSON like {"input": "..."}' });
        return;
      }
    }
    const definition = byName.get(name.toLowerCase());
    if (!definition || definition.kind === "http") {
      sendJson(response, 404, { error: `No non-HTTP function named "${name}"` });
      return;
    }
    response.writeHead(202);
    response.end();
    runNow(name, input).catch((error: unknown) =>
      log({ level: "error", function: name, message: "admin invocation failed", error: errorText(error) }),
    );
  };

  // Resolve every timer schedule before listening, so a bad setting fails the start cleanly.
  const timerSchedules =
    options.timers === false
      ? []
      : options.functions
          .filter((definition): definition is TimerFunctionDefinition => definition.kind === "timer")
          .map((definition) => ({
            definition,
            schedule: parseNcrontab(resolveSetting(definition.schedule, settings, definition.name)),
          }));

  const server: Server = createServer((request, response) => {
    readBody(request)
      .then(async (body) => {
        const url = new URL(request.url ?? "/", `http://${request.headers.host ?? "localhost"}`);
        if (url.pathname === "/api" || url.pathname.startsWith("/api/")) {
          await handleHttpTrigger(request, url, body, response);
        } else if (url.pathname === "/runtime/webhooks/eventgrid") {
          await handleEventGridWebhook(request, url, body, response);
        } else if (url.pathname.startsWith("/admin/functions/")) {
          await handleAdmin(request, url, body, response);
        } else if (url.pathname === "/admin/host/status") {
          if (!keyMatches(presentedKey(request, url), masterKey)) {
            sendJson(response, 401, {
              error: "Admin calls need the master key in the x-functions-key header",
            });
          } else {
            sendJson(response, 200, {
              state: "Running",
              functions: options.functions.map((definition) => definition.name),
            });
          }
        } else if (url.pathname === "/") {
          sendJson(response, 200, { state: "Running" });
        } else {
          sendJson(response, 404, { error: `Nothing is served at ${url.pathname}` });
        }
      })
      .catch((error: unknown) => {
        if (error instanceof BodyTooLargeError) {
          log({
            level: "warning",
            message: "request body too large",
            path: request.url,
            error: error.message,
          });
          refuseTooLarge(request, response, error);
          return;
        }
        log({ level: "error", message: "request failed", path: request.url, error: errorText(error) });
        if (!response.headersSent)
          sendJson(response, 500, { error: "Internal error in the function; see the host log" });
        else response.end();
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 7071, options.hostname ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const stopTimers = timerSchedules.map(({ definition, schedule }) => {
    let last = new Date();
    return runOnSchedule(schedule, (next) => {
      const fired = new Date();
      const status = { last: last.toISOString(), next: next.toISOString(), lastUpdated: fired.toISOString() };
      last = fired;
      return invokeTimer(definition, {
        isPastDue: fired.getTime() - next.getTime() > 1000,
        schedule: { adjustForDST: false },
        scheduleStatus: status,
      }).catch((error: unknown) =>
        log({
          level: "error",
          function: definition.name,
          message: "timer invocation failed",
          error: errorText(error),
        }),
      );
    });
  });

  return {
    url: `http://localhost:${port}`,
    port,
    functionKey,
    masterKey,
    eventGridKey,
    eventGridWebhook: (functionName) =>
      `http://localhost:${port}/runtime/webhooks/eventgrid?functionName=${encodeURIComponent(functionName)}&code=${encodeURIComponent(eventGridKey)}`,
    runNow,
    close: async () => {
      for (const stop of stopTimers) stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Replace a whole-value "%NAME%" with the app setting, as the Functions host does. */
export function resolveSetting(
  value: string,
  settings: Record<string, string | undefined>,
  functionName: string,
): string {
  const match = /^%([A-Za-z0-9_]+)%$/.exec(value.trim());
  if (!match) return value;
  const resolved = settings[match[1] ?? ""];
  if (!resolved) throw new Error(`Function "${functionName}" uses %${match[1]}% but that setting is not set`);
  return resolved;
}

function logRecord(
  level: LogLevel,
  functionName: string,
  invocationId: string,
  args: unknown[],
): Record<string, unknown> {
  const record: Record<string, unknown> = { level, function: functionName, invocationId };
  const words: string[] = [];
  for (const arg of args) {
    if (arg instanceof Error) record.error = errorText(arg);
    else if (typeof arg === "object" && arg !== null) Object.assign(record, arg);
    else words.push(String(arg));
  }
  record.message = words.join(" ");
  return record;
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function flattenHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

/**
 * The request body, at most MAX_BODY_BYTES: a declared Content-Length over the limit is refused
 * before anything is read, and a body without one is read only until it crosses the limit.
 * Either way BodyTooLargeError, answered 413 on every route, with or without a key.
 */
async function readBody(request: IncomingMessage): Promise<Buffer> {
  const declared = request.headers["content-length"];
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES)
    throw new BodyTooLargeError(Number(declared));
  // Events, not `for await`: leaving an async iterator early destroys the socket, and the 413
  // could not be sent any more.
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      request.off("data", onData);
      request.off("end", onEnd);
      request.off("error", onError);
      request.pause();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        stop();
        reject(new BodyTooLargeError(undefined));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    request.on("data", onData);
    request.on("end", onEnd);
    request.on("error", onError);
  });
}

/** 413, then the connection is closed: the rest of the body is never read. */
function refuseTooLarge(request: IncomingMessage, response: ServerResponse, error: BodyTooLargeError): void {
  if (response.headersSent) {
    request.destroy();
    return;
  }
  response.shouldKeepAlive = false;
  response.once("finish", () => {
    if (!request.complete) request.destroy();
  });
  sendJson(response, 413, {
    error: `${error.message}; send a smaller body (this host accepts at most ${MAX_BODY_BYTES} bytes)`,
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  response.end(JSON.stringify(body));
}

async function writeHttpResult(
  response: ServerResponse,
  result: HttpResponseInit | HttpResponse | undefined,
): Promise<number> {
  const init = result instanceof HttpResponse ? undefined : (result ?? {});
  if (result instanceof HttpResponse) {
    const headers: Record<string, string> = {};
    result.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const body = Buffer.from(await result.arrayBuffer());
    response.writeHead(result.status, headers);
    response.end(body);
    return result.status;
  }
  const status = init?.status ?? 200;
  const headers: Record<string, string> = {};
  if (init?.headers) {
    new Headers(init.headers as HeadersInit).forEach((value, name) => {
      headers[name] = value;
    });
  }
  let payload: string | Buffer = "";
  if (init?.jsonBody !== undefined) {
    payload = JSON.stringify(init.jsonBody);
    headers["content-type"] ??= "application/json; charset=utf-8";
  } else if (typeof init?.body === "string") {
    payload = init.body;
    headers["content-type"] ??= "text/plain; charset=utf-8";
  } else if (init?.body instanceof Uint8Array) {
    payload = Buffer.from(init.body);
  } else if (init?.body !== undefined && init.body !== null) {
    payload = Buffer.from(await new Response(init.body as BodyInit).arrayBuffer());
  }
  response.writeHead(status, headers);
  response.end(payload);
  return status;
}
