/**
 * HTTP POST /api/keys/{vault}/{key}/rotate (function key): emergency rotation. Body
 * `{"reason": "...", "dryRun": false, "force": false}`; an `Idempotency-Key` header makes it
 * safe to repeat. Within ROTATOR_EMERGENCY_COOLDOWN of the last emergency rotation of the key
 * it answers 409 naming that version, unless `"force": true`. Answers 202 with the new version
 * and the plan; 400/404/409/413 with a clear message.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { ValidationError } from "../src/errors.js";
import { registerFunction } from "../src/hosting/functionDefinition.js";
import { loadRuntime } from "../src/hosting/lazyRuntime.js";
import { validateEmergencyReason } from "../src/rotation/emergencyReason.js";
import { errorAnswer, jsonAnswer } from "../src/rotation/httpAnswers.js";
import { logFromContext } from "../src/rotation/log.js";
import { readBodyText } from "../src/rotation/requestBody.js";

/** The body is `{"reason", "dryRun"?, "force"?}`; a reason is at most 500 characters. */
const MAX_BODY_BYTES = 4096;
const BODY_SHAPE = '{"reason": "...", "dryRun": false, "force": false}';

export interface RotateBody {
  reason: string;
  dryRun: boolean;
  /** Rotate even within ROTATOR_EMERGENCY_COOLDOWN of the last emergency rotation. */
  force: boolean;
}

function optionalBoolean(body: Record<string, unknown>, field: "dryRun" | "force"): boolean {
  const value = body[field];
  if (value === undefined) return false;
  if (typeof value !== "boolean")
    throw new ValidationError(`request body ${field}`, `"${field}" must be true or false`);
  return value;
}

export function parseRotateBody(text: string): RotateBody {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ValidationError("request body", `the request body must be JSON: ${BODY_SHAPE}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ValidationError("request body", `the request body must be a JSON object: ${BODY_SHAPE}`);
  }
  const { reason, dryRun: _dryRun, force: _force, ...unknown } = body as Record<string, unknown>;
  const extra = Object.keys(unknown);
  if (extra.length > 0) {
    throw new ValidationError(
      "request body",
      `unknown field(s) ${extra.join(", ")}: the body takes only "reason", "dryRun" and "force"`,
    );
  }
  const record = body as Record<string, unknown>;
  return {
    reason: validateEmergencyReason(reason),
    dryRun: optionalBoolean(record, "dryRun"),
    force: optionalBoolean(record, "force"),
  };
}

export async function rotateKey(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const log = logFromContext(context);
  try {
    const body = parseRotateBody(await readBodyText(request, MAX_BODY_BYTES));
    const { service } = await loadRuntime();
    const header = request.headers.get("idempotency-key");
    // The idempotency store reaches the table client: loaded with the runtime, not with this module.
    const { validateIdempotencyKey } = await import("../src/idempotency/idempotencyStore.js");
    const answer = await service.emergencyRotate({
      vault: request.params.vault ?? "",
      key: request.params.key ?? "",
      reason: body.reason,
      dryRun: body.dryRun,
      force: body.force,
      ...(header !== null ? { idempotencyKey: validateIdempotencyKey(header) } : {}),
    });
    log.info("emergency rotation answered", {
      key: answer.key,
      version: answer.newVersion,
      compromisedVersion: answer.compromisedVersion,
      dryRun: answer.dryRun,
    });
    return jsonAnswer(answer.dryRun || answer.newVersion === null ? 200 : 202, answer);
  } catch (error) {
    return errorAnswer(error, log, `emergency rotation of ${request.params.vault}/${request.params.key}`);
  }
}

export const rotateKeyFunction = registerFunction({
  kind: "http",
  name: "rotateKey",
  route: "keys/{vault}/{key}/rotate",
  methods: ["POST"],
  authLevel: "function",
  handler: rotateKey,
});
