/**
 * Azure Functions route templates ("keys/{vault}/{key}/rotate", "keys/{vault?}/{key?}",
 * "items/{id:int}") matched against request paths, the way the Functions host does it:
 * segments compare case-insensitively, parameters take one segment, optional parameters may
 * be missing at the end. Constraints after ":" are checked for the common kinds.
 */

interface TemplateSegment {
  literal?: string;
  param?: { name: string; optional: boolean; constraint?: string };
}

export interface RouteTemplate {
  readonly source: string;
  readonly segments: TemplateSegment[];
}

export function parseRouteTemplate(template: string): RouteTemplate {
  const trimmed = template.replace(/^\/+|\/+$/g, "");
  const segments = trimmed === "" ? [] : trimmed.split("/").map(parseSegment);
  return { source: template, segments };
}

function parseSegment(segment: string): TemplateSegment {
  const match = /^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([^}?]+))?(\?)?\}$/.exec(segment);
  if (!match) {
    if (segment.includes("{") || segment.includes("}")) {
      throw new Error(
        `Route segment "${segment}" mixes literal text and a parameter; the local host supports whole-segment parameters only`,
      );
    }
    return { literal: segment.toLowerCase() };
  }
  return { param: { name: match[2] ?? "", optional: match[4] === "?", constraint: match[3] } };
}

const CONSTRAINTS: Record<string, RegExp> = {
  int: /^-?\d+$/,
  long: /^-?\d+$/,
  alpha: /^[A-Za-z]+$/,
  bool: /^(true|false)$/i,
  guid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
};

/** Parameters when `path` (without /api prefix, no query) matches, else undefined. */
export function matchRoute(route: RouteTemplate, path: string): Record<string, string> | undefined {
  const parts = path
    .replace(/^\/+|\/+$/g, "")
    .split("/")
    .filter((part) => part !== "");
  const params: Record<string, string> = {};
  for (let index = 0; index < route.segments.length; index++) {
    const segment = route.segments[index]!;
    const part = parts[index];
    if (part === undefined) {
      if (segment.param?.optional) continue;
      return undefined;
    }
    if (segment.literal !== undefined) {
      if (segment.literal !== part.toLowerCase()) return undefined;
      continue;
    }
    const param = segment.param!;
    let value: string;
    try {
      value = decodeURIComponent(part);
    } catch {
      return undefined;
    }
    const constraint = param.constraint ? CONSTRAINTS[param.constraint] : undefined;
    if (constraint && !constraint.test(value)) return undefined;
    params[param.name] = value;
  }
  return parts.length <= route.segments.length ? params : undefined;
}
