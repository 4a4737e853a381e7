/**
 * Entity tags of resources whose provider keeps one in the body (Kusto clusters: `etag`), as
 * Azure does it: a new etag on every write (an accepted PATCH, and again when its operation
 * ends), and `If-Match` honoured where the provider's spec takes it (Kusto Clusters_Update:
 * "Specify the last-seen ETag value to prevent accidentally overwriting concurrent changes").
 * A stale `If-Match` is 412 in the provider's error shape; `*` matches any existing resource.
 */
import { randomBytes } from "node:crypto";
import type { SandboxRequest } from "../http.js";
import { type ArmErrorStyle, ArmRequestError } from "./armErrors.js";
import type { JsonObject } from "./patchBody.js";

/** The body with a fresh etag, when it carries one at all. */
export function withNewEtag(body: JsonObject): JsonObject {
  if (typeof body.etag !== "string") return body;
  return { ...body, etag: `"${randomBytes(8).toString("hex")}"` };
}

/** The body with `source`'s etag (the accepted answer shows the etag the resource has now). */
export function withEtagOf(body: JsonObject, source: JsonObject): JsonObject {
  return typeof source.etag === "string" ? { ...body, etag: source.etag } : body;
}

/** Throws 412 when `If-Match` names another etag than the resource's. */
export function requireIfMatch(
  request: SandboxRequest,
  body: JsonObject,
  resourceId: string,
  style: ArmErrorStyle,
): void {
  const header: string | string[] | undefined = request.headers["if-match"];
  const ifMatch = Array.isArray(header) ? header[0] : header;
  if (ifMatch === undefined || ifMatch.trim() === "*") return;
  const etags = ifMatch.split(",").map((value: string) => value.trim().replace(/^W\//, ""));
  if (typeof body.etag === "string" && etags.includes(body.etag)) return;
  throw new ArmRequestError(
    412,
    "PreconditionFailed",
    `The condition specified using HTTP conditional header(s) is not met for resource '${resourceId}': If-Match ${ifMatch} does not match the current ETag. Read the resource again and retry with its current ETag.`,
    style,
  );
}
