/**
 * Reads swagger 2.0 files from the shared Azure REST API specs (read only) and resolves
 * `$ref`s between them, including relative cross-file refs such as
 * `../../../../../../common-types/resource-management/v3/types.json#/parameters/ApiVersionParameter`.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export type JsonObject = Record<string, unknown>;

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** The specs live beside the repository (`../shared/azure-specs`), both here and in CI. */
export const AZURE_SPECS_ROOT = path.resolve(packageRoot, "../shared/azure-specs");

export function specPath(relativePath: string): string {
  return path.resolve(AZURE_SPECS_ROOT, relativePath);
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A node found by following a `$ref`, with the file it lives in (refs inside it are relative to that file). */
export interface ResolvedNode {
  file: string;
  /** JSON pointer inside `file`, e.g. "/definitions/KeyBundle". */
  pointer: string;
  node: unknown;
}

export class SwaggerDocuments {
  private readonly files = new Map<string, JsonObject>();

  load(file: string): JsonObject {
    const absolute = path.resolve(file);
    const cached = this.files.get(absolute);
    if (cached) return cached;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(absolute, "utf8"));
    } catch (error) {
      throw new Error(
        `Cannot read swagger file ${absolute}: ${(error as Error).message}. The Azure specs are expected at ${AZURE_SPECS_ROOT}.`,
      );
    }
    if (!isJsonObject(parsed)) throw new Error(`Swagger file ${absolute} is not a JSON object`);
    this.files.set(absolute, parsed);
    return parsed;
  }

  resolveRef(ref: string, fromFile: string): ResolvedNode {
    const hashAt = ref.indexOf("#");
    const filePart = hashAt < 0 ? ref : ref.slice(0, hashAt);
    const pointer = hashAt < 0 ? "" : decodeURIComponent(ref.slice(hashAt + 1));
    const file = filePart ? path.resolve(path.dirname(fromFile), filePart) : path.resolve(fromFile);
    const node = getByPointer(this.load(file), pointer);
    if (node === undefined) throw new Error(`Unresolvable $ref "${ref}" in ${fromFile}`);
    return { file, pointer, node };
  }

  /** `entry` and every file reachable from it through `$ref` (example files under x-ms-examples excluded). */
  closure(entry: string): string[] {
    const seen = new Set<string>();
    const pending = [path.resolve(entry)];
    while (pending.length > 0) {
      const file = pending.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const ref of collectRefs(this.load(file))) {
        const filePart = ref.split("#")[0];
        if (filePart) pending.push(path.resolve(path.dirname(file), filePart));
      }
    }
    return [...seen];
  }
}

function collectRefs(node: unknown, into: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const item of node) collectRefs(item, into);
  } else if (isJsonObject(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key === "x-ms-examples") continue;
      if (key === "$ref" && typeof value === "string") into.push(value);
      else collectRefs(value, into);
    }
  }
  return into;
}

export function getByPointer(root: unknown, pointer: string): unknown {
  if (pointer === "" || pointer === "/") return root;
  let current: unknown = root;
  for (const raw of pointer.replace(/^\//, "").split("/")) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(current)) current = current[Number(segment)];
    else if (isJsonObject(current)) current = current[segment];
    else return undefined;
  }
  return current;
}

export function escapePointerSegment(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}
