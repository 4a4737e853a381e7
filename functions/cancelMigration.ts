/**
 * HTTP POST /api/keys/{vault}/{key}/migrate/cancel (function key): cancels the key's running
 * migration. Body `{"reason": "..."}`. No further consumer is moved; the consumers already moved
 * stay on the destination (nothing is moved back). Answers 200; 400 for a bad body, 404 when no
 * migration of the key runs.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { ValidationError } from "../src/errors.js";
import { registerFunction } from "../src/hosting/functionDefinition.js";
import { loadRuntime } from "../src/hosting/lazyRuntime.js";
import { validateEmergencyReason } from "../src/rotation/emergencyReason.js";
import { errorAnswer, jsonAnswer } from "../src/rotation/httpAnswers.js";
import { logFromContext } from "../src/rotation/log.js";
import { readBodyText } from "../src/rotation/requestBody.js";

const MAX_BODY_BYTES = 4096;

export function parseCancelBody(text: string): { reason: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ValidationError("request body", 'the request body must be JSON: {"reason": "..."}');
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new ValidationError("request body", 'the request body must be a JSON object: {"reason": "..."}');
  const { reason, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0)
    throw new ValidationError(
      "request body",
      `unknown field(s) ${extra.join(", ")}: the body takes only "reason"`,
    );
  return { reason: validateEmergencyReason(reason) };
}

export async function cancelMigration(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const log = logFromContext(context);
  try {
    const body = parseCancelBody(await readBodyText(request, MAX_BODY_BYTES));
    const { service } = await loadRuntime();
    const answer = await service.cancelMigration({
      vault: request.params.vault ?? "",
      key: request.params.key ?? "",
      reason: body.reason,
    });
    log.info("migration cancelled", { key: answer.key, toKey: answer.destination });
    return jsonAnswer(200, answer);
  } catch (error) {
    return errorAnswer(
      error,
      log,
      `cancelling the migration of ${request.params.vault}/${request.params.key}`,
    );
  }
}

export const cancelMigrationFunction = registerFunction({
  kind: "http",
  name: "cancelMigration",
  route: "keys/{vault}/{key}/migrate/cancel",
  methods: ["POST"],
  authLevel: "function",
  handler: cancelMigration,
});
