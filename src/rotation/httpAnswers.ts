/**
 * How the service's named errors become HTTP answers, for every HTTP function alike:
 * 400 bad input, 404 unknown vault or key, 409 conflict, 500 anything unexpected. Bodies
 * are JSON `{ "error": { "code", "message" } }` with a message that says what to do.
 */
import type { HttpResponseInit } from "@azure/functions";
import { ConflictError, describeError, NotFoundError, SettingsError, ValidationError } from "../errors.js";
import type { RotatorLog } from "./log.js";

export function jsonAnswer(status: number, body: unknown): HttpResponseInit {
  return { status, jsonBody: body, headers: { "content-type": "application/json; charset=utf-8" } };
}

export function errorAnswer(error: unknown, log: RotatorLog, operation: string): HttpResponseInit {
  if (error instanceof ValidationError)
    return jsonAnswer(400, { error: { code: "BadRequest", message: error.message } });
  if (error instanceof NotFoundError)
    return jsonAnswer(404, { error: { code: "NotFound", message: error.message } });
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
