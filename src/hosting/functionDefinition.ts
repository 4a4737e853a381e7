/**
 * Every function is defined once, as data. `registerFunction` hands the definition to the
 * Azure Functions runtime (`@azure/functions` v4); the local host (`sandbox/local/`) reads the
 * same definitions from `functions/index.ts`, so there is no second route table.
 */
import type { EventGridEvent, HttpHandler, HttpMethod, InvocationContext, Timer } from "@azure/functions";
import { app } from "./azureFunctionsRuntime.js";

export interface HttpFunctionDefinition {
  kind: "http";
  name: string;
  /** Route under /api, in Functions route syntax: "keys/{vault}/{key}/rotate". */
  route: string;
  methods: HttpMethod[];
  authLevel: "anonymous" | "function";
  handler: HttpHandler;
}

export interface EventGridFunctionDefinition {
  kind: "eventGrid";
  name: string;
  /** Called once per event; the event is in Event Grid or CloudEvents shape, as delivered. */
  handler: (event: EventGridEvent, context: InvocationContext) => Promise<void>;
}

export interface TimerFunctionDefinition {
  kind: "timer";
  name: string;
  /** 6-field NCRONTAB, or "%SETTING_NAME%" resolved from app settings. */
  schedule: string;
  handler: (timer: Timer, context: InvocationContext) => Promise<void>;
}

export type FunctionDefinition =
  | HttpFunctionDefinition
  | EventGridFunctionDefinition
  | TimerFunctionDefinition;

/** Register with the Azure Functions runtime (a no-op test mode outside the host) and return the definition. */
export function registerFunction<T extends FunctionDefinition>(definition: T): T {
  switch (definition.kind) {
    case "http":
      app.http(definition.name, {
        route: definition.route,
        methods: definition.methods,
        authLevel: definition.authLevel,
        handler: definition.handler,
      });
      break;
    case "eventGrid":
      app.eventGrid(definition.name, { handler: definition.handler });
      break;
    case "timer":
      app.timer(definition.name, { schedule: definition.schedule, handler: definition.handler });
      break;
  }
  return definition;
}
