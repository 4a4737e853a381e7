/**
 * `@azure/functions` is a CommonJS package whose named exports Node's ESM loader cannot
 * detect, so `import { app } from "@azure/functions"` works under vitest but fails under plain
 * Node. Import the runtime values from here instead (types can still come straight from the
 * package with `import type`). It is loaded with `require`: an ESM `import` of a CommonJS
 * module first scans its source for exports (about 20 ms for this 190 KB bundle, most of a
 * cold start's budget), `require` does not.
 */
import { createRequire } from "node:module";

const azureFunctions = createRequire(import.meta.url)(
  "@azure/functions",
) as typeof import("@azure/functions");

export const app = azureFunctions.app;
export const HttpRequest = azureFunctions.HttpRequest;
export type HttpRequest = import("@azure/functions").HttpRequest;
export const HttpResponse = azureFunctions.HttpResponse;
export type HttpResponse = import("@azure/functions").HttpResponse;
export const InvocationContext = azureFunctions.InvocationContext;
export type InvocationContext = import("@azure/functions").InvocationContext;
