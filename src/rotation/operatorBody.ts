/**
 * The body of the operator routes (restore, freeze, unfreeze): `{"reason": "..."}` and nothing
 * else, at most OPERATOR_BODY_BYTES (413 beyond, see requestBody.ts). Bad input is a 400 that
 * changes nothing.
 */
import { ValidationError } from "../errors.js";
import { validateReason } from "./emergencyReason.js";

/** A reason is at most 500 characters: 4 KiB is room enough, as for rotate. */
export const OPERATOR_BODY_BYTES = 4096;
const BODY_SHAPE = '{"reason": "..."}';

/** Parses and validates the body; `why` completes "a non-empty string saying why ...". */
export function parseReasonBody(text: string, why: string): { reason: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ValidationError("request body", `the request body must be JSON: ${BODY_SHAPE}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ValidationError("request body", `the request body must be a JSON object: ${BODY_SHAPE}`);
  }
  const { reason, ...unknown } = body as Record<string, unknown>;
  const extra = Object.keys(unknown);
  if (extra.length > 0) {
    throw new ValidationError(
      "request body",
      `unknown field(s) ${extra.join(", ")}: the body takes only "reason" (${BODY_SHAPE})`,
    );
  }
  return { reason: validateReason(reason, why) };
}
