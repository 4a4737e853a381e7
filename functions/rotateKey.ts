/**
 * HTTP POST /api/keys/{vault}/{key}/rotate (function key): emergency rotation. Body
 * `{"reason": "...", "dryRun": false}`; an `Idempotency-Key` header makes it safe to
 * repeat. Answers 202 with the new version and the plan; 400/404/409 with a clear message.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { ValidationError } from "../src/errors.js";
import { registerFunction } from "../src/hosting/functionDefinition.js";
import { validateIdempotencyKey } from "../src/idempotency/idempotencyStore.js";
import { errorAnswer, jsonAnswer } from "../src/rotation/httpAnswers.js";
import { logFromContext } from "../src/rotation/log.js";
import { validateEmergencyReason } from "../src/rotation/rotationService.js";
import { getRuntime } from "../src/runtime.js";

const MAX_BODY_CHARACTERS = 4096;

export interface RotateBody {
  reason: string;
  dryRun: boolean;
}

export function parseRotateBody(text: string): RotateBody {
  if (text.length > MAX_BODY_CHARACTERS) {
    throw new ValidationError(
      "request body",
      `the request body is ${text.length} characters; keep it under ${MAX_BODY_CHARACTERS}`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ValidationError(
      "request body",
      'the request body must be JSON: {"reason": "...", "dryRun": false}',
    );
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ValidationError(
      "request body",
      'the request body must be a JSON object: {"reason": "...", "dryRun": false}',
    );
  }
  const { reason, dryRun, ...unknown } = body as Record<string, unknown>;
  const extra = Object.keys(unknown);
  if (extra.length > 0) {
    throw new ValidationError(
      "request body",
      `unknown field(s) ${extra.join(", ")}: the body takes only "reason" and "dryRun"`,
    );
  }
  if (dryRun !== undefined && typeof dryRun !== "boolean") {
    throw new ValidationError("request body dryRun", '"dryRun" must be true or false');
  }
  return { reason: validateEmergencyReason(reason), dryRun: dryRun ?? false };
}

export async function rotateKey(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const log = logFromContext(context);
  try {
    const { service } = getRuntime();
    const body = parseRotateBody(await request.text());
    const header = request.headers.get("idempotency-key");
    const answer = await service.emergencyRotate({
      vault: request.params.vault ?? "",
      key: request.params.key ?? "",
      reason: body.reason,
      dryRun: body.dryRun,
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
