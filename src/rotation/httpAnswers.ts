/**
 * How the service's named errors become HTTP answers, for every HTTP function alike:
 * 400 bad input, 413 body too large, 404 unknown vault or key, 409 conflict (an emergency
 * rotation within its cooldown names the version just created; one that would pass the Managed
 * HSM cap of 100 versions says so), 500 anything unexpected. Bodies
 * are JSON `{ "error": { "code", "message" } }` with a message that says what to do.
 */
import type { HttpResponseInit } from "@azure/functions";
import {
  ConflictError,
  describeError,
  EmergencyCooldownError,
  MigrationRunningError,
  NotFoundError,
  PayloadTooLargeError,
  SettingsError,
  ValidationError,
  VersionCapError,
} from "../errors.js";
import type { RotatorLog } from "./log.js";

export function jsonAnswer(status: number, body: unknown): HttpResponseInit {
  return { status, jsonBody: body, headers: { "content-type": "application/json; charset=utf-8" } };
}

export function errorAnswer(error: unknown, log: RotatorLog, operation: string): HttpResponseInit {
  if (error instanceof ValidationError)
    return jsonAnswer(400, { error: { code: "BadRequest", message: error.message } });
  if (error instanceof PayloadTooLargeError)
    return jsonAnswer(413, { error: { code: "PayloadTooLarge", message: error.message } });
  if (error instanceof NotFoundError)
    return jsonAnswer(404, { error: { code: "NotFound", message: error.message } });
  if (error instanceof EmergencyCooldownError) {
    const retryAfterSeconds = Math.max(1, Math.ceil(error.recent.retryAfterMs / 1000));
    const answer = jsonAnswer(409, {
      error: {
        code: "EmergencyCooldown",
        message: error.message,
        version: error.recent.version,
        versionId: error.recent.versionId,
        createdAt: error.recent.createdAt.toISOString(),
        retryAfterSeconds,
      },
    });
    return {
      ...answer,
      headers: { ...(answer.headers as Record<string, string>), "retry-after": String(retryAfterSeconds) },
    };
  }
  if (error instanceof VersionCapError) {
    return jsonAnswer(409, {
      error: {
        code: "ManagedHsmVersionCap",
        message: error.message,
        versions: error.versions,
        cap: error.cap,
      },
    });
  }
  if (error instanceof MigrationRunningError)
    return jsonAnswer(409, { error: { code: "MigrationRunning", message: error.message } });
  if (error instanceof ConflictError)
    return jsonAnswer(409, { error: { code: "Conflict", message: error.message } });
  const message = describeError(error);
  log.error(`${operation} failed unexpectedly`, {
    detail: message,
    kind: error instanceof SettingsError ? "settings" : "unexpected",
  });
  return jsonAnswer(500, {
    error: {
      code: "InternalError",
      message: `${operation} failed: ${message}; see the function logs and retry`,
    },
  });
}
