/**
 * The functions' way to the service: `src/runtime.ts` (and with it every Azure SDK client,
 * the table client and telemetry) is imported on the first invocation, not when the
 * Functions worker loads the entry modules, so a cold start loads only `@azure/functions`
 * and these thin files. Local runs and tests install their runtime first (`installRuntime`);
 * this finds it, because a module is loaded once per process however it is imported.
 */
import type { Runtime } from "../runtime.js";

export async function loadRuntime(): Promise<Runtime> {
  const { loadRuntime: load } = await import("../runtime.js");
  return load();
}
