/** The reason an emergency rotation must give: checked before anything is loaded or changed. */
import { ValidationError } from "../errors.js";

export const REASON_MAX_LENGTH = 500;

export function validateEmergencyReason(reason: unknown): string {
  return validateReason(reason, "the key is rotated");
}

/** The reason every operator act gives (rotate, restore, freeze, unfreeze): `why` completes "saying why ...". */
export function validateReason(reason: unknown, why: string): string {
  if (typeof reason !== "string" || reason.trim() === "") {
    throw new ValidationError(
      "request body reason",
      `the request body needs "reason": a non-empty string saying why ${why}`,
    );
  }
  const trimmed = reason.trim();
  if (trimmed.length > REASON_MAX_LENGTH) {
    throw new ValidationError(
      "request body reason",
      `"reason" is ${trimmed.length} characters; keep it to ${REASON_MAX_LENGTH}`,
    );
  }
  return trimmed;
}
