/**
 * Validation and merging of PATCH bodies, shared by every resource kind: a PATCH names only
 * what changes, so each given field replaces the current one, nested `properties` are merged
 * one level deep, read-only fields may be echoed back unchanged but not changed, and a field
 * the resource type does not have is refused rather than silently dropped.
 */
import { type ArmErrorStyle, badRequest } from "./armErrors.js";

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function requireJsonObject(value: unknown, path: string, style: ArmErrorStyle): JsonObject {
  if (!isJsonObject(value)) throw badRequest(`The value of '${path}' must be a JSON object.`, style);
  return value;
}

export function optionalString(value: unknown, path: string, style: ArmErrorStyle): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw badRequest(`The value of '${path}' must be a string.`, style);
  return value;
}

export function requireStringMap(value: unknown, path: string, style: ArmErrorStyle): Record<string, string> {
  const map = requireJsonObject(value, path, style);
  for (const [name, entry] of Object.entries(map)) {
    if (typeof entry !== "string")
      throw badRequest(`The value of '${path}.${name}' must be a string.`, style);
  }
  return map as Record<string, string>;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, index) => deepEqual(item, b[index]));
  }
  const left = a as JsonObject;
  const right = b as JsonObject;
  const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
  for (const key of keys) if (!deepEqual(left[key], right[key])) return false;
  return true;
}

export interface FieldRules {
  /** Fields a PATCH may change. */
  updatable: readonly string[];
  /** Fields a PATCH may only echo back unchanged. */
  readOnly: readonly string[];
}

/**
 * Merge `patch` over `current` field by field following `rules`. Fields whose handling is
 * special (identity, properties, ...) must be listed in `rules` and are overwritten by the
 * caller afterwards. `null` leaves a field as it is.
 */
export function mergeFields(
  current: JsonObject,
  patch: JsonObject,
  rules: FieldRules,
  path: string,
  style: ArmErrorStyle,
): JsonObject {
  const merged: JsonObject = { ...current };
  for (const [name, value] of Object.entries(patch)) {
    if (value === undefined || value === null) continue;
    const fieldPath = path ? `${path}.${name}` : name;
    if (rules.readOnly.includes(name)) {
      if (!deepEqual(current[name], value)) {
        throw badRequest(`The property '${fieldPath}' is read-only and cannot be changed.`, style);
      }
      continue;
    }
    if (!rules.updatable.includes(name)) {
      throw badRequest(
        `The property '${fieldPath}' is not a property that can be updated on this resource.`,
        style,
      );
    }
    merged[name] = value;
  }
  return merged;
}

/** "West Europe", "westeurope" and "WestEurope" name the same region. */
export function normaliseLocation(location: string): string {
  return location.replace(/\s+/g, "").toLowerCase();
}

export function requireSameLocation(current: unknown, requested: unknown, style: ArmErrorStyle): void {
  if (requested === undefined || requested === null) return;
  if (typeof requested !== "string") throw badRequest("The value of 'location' must be a string.", style);
  if (typeof current === "string" && normaliseLocation(current) === normaliseLocation(requested)) return;
  throw badRequest(
    `The location of a resource cannot be changed (current '${String(current)}', requested '${requested}').`,
    style,
    "InvalidResourceLocation",
  );
}

/**
 * The part of a PATCH every tracked resource (one with a location and tags) shares: the
 * body is an object, the location stays, top-level fields follow `rules`, and tags are a
 * map of strings. Returns the request and the merge; the caller handles its special fields.
 */
export function mergeTrackedResourcePatch(
  current: JsonObject,
  patch: unknown,
  rules: FieldRules,
  style: ArmErrorStyle,
): { request: JsonObject; merged: JsonObject } {
  const request = requireJsonObject(patch, "body", style);
  requireSameLocation(current.location, request.location, style);
  const merged = mergeFields(current, request, rules, "", style);
  merged.location = current.location;
  if (request.tags !== undefined && request.tags !== null)
    merged.tags = requireStringMap(request.tags, "tags", style);
  return { request, merged };
}
