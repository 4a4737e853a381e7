/**
 * Structured logs: one JSON object per line, naming key, version and consumer in fields so
 * they can be queried. The functions pass their InvocationContext's logger through
 * `logFromContext`; everything else logs to the console.
 */
import { redactSecrets } from "./redaction.js";

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface RotatorLog {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

type Sink = (line: string) => void;

/** One JSON log line; every line goes through `redactSecrets`, so no key or token is ever logged. */
export function jsonLine(level: "info" | "warn" | "error", message: string, fields: LogFields = {}): string {
  const clean: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) clean[name] = value;
  return JSON.stringify(redactSecrets({ level, message, ...clean }));
}

export function structuredLog(sinks: { info: Sink; warn: Sink; error: Sink }): RotatorLog {
  return {
    info: (message, fields) => sinks.info(jsonLine("info", message, fields)),
    warn: (message, fields) => sinks.warn(jsonLine("warn", message, fields)),
    error: (message, fields) => sinks.error(jsonLine("error", message, fields)),
  };
}

export const consoleLog: RotatorLog = structuredLog({
  info: (line) => console.log(line),
  warn: (line) => console.warn(line),
  error: (line) => console.error(line),
});

export const silentLog: RotatorLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Anything with the InvocationContext's log methods. */
export interface ContextLogger {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export function logFromContext(context: ContextLogger): RotatorLog {
  return structuredLog({
    info: (line) => context.log(line),
    warn: (line) => context.warn(line),
    error: (line) => context.error(line),
  });
}
