/**
 * HTTP POST /api/keys/{vault}/{key}/migrate (function key): move every consumer of the key to
 * another key (the second way to rotate). Body
 * `{"to": {"vault": "...", "key": "..."}, "reason": "...", "dryRun": false, "retireSource": false}`;
 * an `Idempotency-Key` header makes it safe to repeat. The migration is stored, and every later
 * run moves the consumers still on the key. Answers 202 with the plan (200 for a dry run or in
 * report mode); 400/404/409/413 with `{"error": {"code", "message"}}`.
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
const BODY_SHAPE =
  '{"to": {"vault": "...", "key": "..."}, "reason": "...", "dryRun": false, "retireSource": false}';

export interface MigrateBody {
  to: { vault: string; key: string };
  reason: string;
  dryRun: boolean;
  retireSource: boolean;
}

function jsonObject(text: string, shape: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ValidationError("request body", `the request body must be JSON: ${shape}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new ValidationError("request body", `the request body must be a JSON object: ${shape}`);
  return body as Record<string, unknown>;
}

function optionalBoolean(body: Record<string, unknown>, field: string): boolean {
  const value = body[field];
  if (value === undefined) return false;
  if (typeof value !== "boolean")
    throw new ValidationError(`request body ${field}`, `"${field}" must be true or false`);
  return value;
}

function refuseUnknown(body: Record<string, unknown>, known: readonly string[], where: string): void {
  const extra = Object.keys(body).filter((field) => !known.includes(field));
  if (extra.length > 0)
    throw new ValidationError(
      "request body",
      `unknown field(s) ${extra.join(", ")}${where}: it takes only ${known.map((field) => `"${field}"`).join(", ")}`,
    );
}

export function parseMigrateBody(text: string): MigrateBody {
  const body = jsonObject(text, BODY_SHAPE);
  refuseUnknown(body, ["to", "reason", "dryRun", "retireSource"], "");
  const to = body.to;
  if (typeof to !== "object" || to === null || Array.isArray(to))
    throw new ValidationError(
      "request body to",
      `"to" must be an object {"vault": "...", "key": "..."}: ${BODY_SHAPE}`,
    );
  const destination = to as Record<string, unknown>;
  refuseUnknown(destination, ["vault", "key"], ' in "to"');
  const { vault, key } = destination;
  if (typeof vault !== "string" || vault.trim() === "" || typeof key !== "string" || key.trim() === "")
    throw new ValidationError(
      "request body to",
      `"to" needs "vault" and "key", both non-empty strings: ${BODY_SHAPE}`,
    );
  return {
    to: { vault: vault.trim(), key: key.trim() },
    reason: validateEmergencyReason(body.reason),
    dryRun: optionalBoolean(body, "dryRun"),
    retireSource: optionalBoolean(body, "retireSource"),
  };
}

export async function migrateKey(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const log = logFromContext(context);
  try {
    const body = parseMigrateBody(await readBodyText(request, MAX_BODY_BYTES));
    const { service } = await loadRuntime();
    const header = request.headers.get("idempotency-key");
    const { validateIdempotencyKey } = await import("../src/idempotency/idempotencyStore.js");
    const answer = await service.migrate({
      vault: request.params.vault ?? "",
      key: request.params.key ?? "",
      toVault: body.to.vault,
      toKey: body.to.key,
      reason: body.reason,
      dryRun: body.dryRun,
      retireSource: body.retireSource,
      ...(header !== null ? { idempotencyKey: validateIdempotencyKey(header) } : {}),
    });
    log.info("migration answered", { key: answer.key, toKey: answer.destination, dryRun: answer.dryRun });
    return jsonAnswer(answer.dryRun || answer.mode === "report" ? 200 : 202, answer);
  } catch (error) {
    return errorAnswer(error, log, `migration of ${request.params.vault}/${request.params.key}`);
  }
}

export const migrateKeyFunction = registerFunction({
  kind: "http",
  name: "migrateKey",
  route: "keys/{vault}/{key}/migrate",
  methods: ["POST"],
  authLevel: "function",
  handler: migrateKey,
});
