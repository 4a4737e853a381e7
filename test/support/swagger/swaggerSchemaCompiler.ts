/**
 * Turns swagger 2.0 schemas into JSON Schema (draft 2019-09) that ajv compiles.
 *
 * Decisions (swagger objects are open by default; Azure's own model validator treats
 * them as closed, and so do we):
 * - An object schema that lists `properties` (or inherits them through `allOf`) and says
 *   nothing about `additionalProperties` is CLOSED: a property the spec does not define
 *   fails. `additionalProperties: true` or a schema keeps it open. Closing uses
 *   `unevaluatedProperties: false` on the outermost use of a type, so properties that
 *   come from `allOf` parents count as defined. Each definition therefore has two
 *   entries: `Name` (closed, used by ordinary refs) and `Name__open` (used by `allOf`).
 * - `discriminator` + `x-ms-discriminator-value`: a ref to a polymorphic base dispatches
 *   on the discriminator value to the matching subtype (any file of the spec set); an
 *   unknown value falls back to the base type.
 * - `readOnly` properties are not required in requests (clients never send them).
 * - `additionalProperties` mistakenly written as a property (OperationalInsights errorInfo)
 *   is read as what it means: an open object.
 * - A bare `type: object` (no properties) means any JSON value, as autorest reads it.
 * - `x-nullable: true` admits null. All other `x-ms-*` extensions are ignored.
 * - Enums are enforced as listed, also for `x-ms-enum.modelAsString` (the sandbox must
 *   only emit documented values).
 * - Formats: int32/int64/float/double/byte/uuid/uri/date-time/duration from ajv-formats;
 *   base64url, unixtime and arm-id added here.
 */
import { pathToFileURL } from "node:url";
import type { AnySchema, ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import addFormatsImport from "ajv-formats";
import {
  escapePointerSegment,
  isJsonObject,
  type JsonObject,
  type SwaggerDocuments,
} from "./swaggerDocuments.js";

export type Direction = "request" | "response";

const OPEN_SUFFIX = "__open";

// ajv-formats is CommonJS: under NodeNext its default import is module.exports, whose `default` is the plugin.
const addFormats = addFormatsImport.default;

interface DefinitionKey {
  file: string;
  name: string;
}

interface Subtype extends DefinitionKey {
  discriminatorValue: string;
}

export class SwaggerSchemaCompiler {
  private readonly ajvByDirection = new Map<Direction, Ajv2019>();
  private readonly compiled = new Map<Direction, WeakMap<object, ValidateFunction>>();
  /** "file#name" of a definition -> definitions that list it in `allOf`. */
  private readonly children = new Map<string, DefinitionKey[]>();

  constructor(
    private readonly documents: SwaggerDocuments,
    private readonly files: string[],
  ) {
    for (const file of files) {
      for (const [name, definition] of Object.entries(this.definitionsOf(file))) {
        if (!isJsonObject(definition) || !Array.isArray(definition.allOf)) continue;
        for (const parent of definition.allOf) {
          if (!isJsonObject(parent) || typeof parent.$ref !== "string") continue;
          const target = this.definitionKeyOfRef(parent.$ref, file);
          if (!target) continue;
          const key = keyOf(target);
          this.children.set(key, [...(this.children.get(key) ?? []), { file, name }]);
        }
      }
    }
  }

  /** A validator for `schema`, a swagger schema node found in `file`. */
  validator(direction: Direction, schema: unknown, file: string): ValidateFunction {
    if (!isJsonObject(schema)) throw new Error(`Not a swagger schema object in ${file}`);
    let cache = this.compiled.get(direction);
    if (!cache) {
      cache = new WeakMap();
      this.compiled.set(direction, cache);
    }
    const cached = cache.get(schema);
    if (cached) return cached;
    const converted = new SchemaConversion(this, direction).convert(schema, file, false);
    const validate = this.ajv(direction).compile(converted as AnySchema);
    cache.set(schema, validate);
    return validate;
  }

  definitionsOf(file: string): JsonObject {
    const definitions = this.documents.load(file).definitions;
    return isJsonObject(definitions) ? definitions : {};
  }

  definitionKeyOfRef(ref: string, fromFile: string): DefinitionKey | undefined {
    const resolved = this.documents.resolveRef(ref, fromFile);
    const match = /^\/definitions\/([^/]+)$/.exec(resolved.pointer);
    if (!match?.[1]) return undefined;
    return { file: resolved.file, name: match[1].replace(/~1/g, "/").replace(/~0/g, "~") };
  }

  resolve(ref: string, fromFile: string): { file: string; node: unknown } {
    return this.documents.resolveRef(ref, fromFile);
  }

  /** Every (transitive) subtype of a polymorphic base, with its discriminator value. */
  subtypesOf(base: DefinitionKey): Subtype[] {
    const result: Subtype[] = [];
    const visit = (parent: DefinitionKey) => {
      for (const child of this.children.get(keyOf(parent)) ?? []) {
        const definition = this.definitionsOf(child.file)[child.name];
        const value =
          isJsonObject(definition) && typeof definition["x-ms-discriminator-value"] === "string"
            ? definition["x-ms-discriminator-value"]
            : child.name;
        result.push({ ...child, discriminatorValue: value });
        visit(child);
      }
    };
    visit(base);
    return result;
  }

  private ajv(direction: Direction): Ajv2019 {
    const existing = this.ajvByDirection.get(direction);
    if (existing) return existing;
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: true });
    addFormats(ajv);
    ajv.addFormat("base64url", /^[A-Za-z0-9_-]*={0,2}$/);
    ajv.addFormat("arm-id", /^\//);
    ajv.addFormat("unixtime", { type: "number", validate: (value: number) => Number.isInteger(value) });
    for (const file of this.files) {
      const conversion = new SchemaConversion(this, direction);
      const definitions: JsonObject = {};
      for (const [name, definition] of Object.entries(this.definitionsOf(file))) {
        if (!isJsonObject(definition)) continue;
        definitions[`${name}${OPEN_SUFFIX}`] = conversion.convert(definition, file, true);
        definitions[name] = conversion.closedDefinition({ file, name }, definition);
      }
      ajv.addSchema({ $id: fileUri(file), definitions });
    }
    this.ajvByDirection.set(direction, ajv);
    return ajv;
  }
}

class SchemaConversion {
  constructor(
    private readonly compiler: SwaggerSchemaCompiler,
    private readonly direction: Direction,
  ) {}

  /** The entry ordinary refs point at: dispatching on the discriminator, closed where the spec is. */
  closedDefinition(key: DefinitionKey, definition: JsonObject): JsonObject {
    const open = { $ref: definitionUri(key, true) };
    const discriminator = typeof definition.discriminator === "string" ? definition.discriminator : undefined;
    let body: JsonObject = open;
    if (discriminator) {
      for (const subtype of this.compiler.subtypesOf(key).reverse()) {
        body = {
          if: {
            required: [discriminator],
            properties: { [discriminator]: { const: subtype.discriminatorValue } },
          },
          // biome-ignore lint/suspicious/noThenProperty: "then" is the JSON Schema keyword paired with "if".
          then: { $ref: definitionUri(subtype, true) },
          else: body,
        };
      }
    }
    return isClosable(definition) ? { allOf: [body], unevaluatedProperties: false } : body;
  }

  /**
   * @param open true when the node is used as an `allOf` member (or is a definition's
   * open body): closing is left to the outermost schema.
   */
  convert(node: JsonObject, file: string, open: boolean): JsonObject {
    if (typeof node.$ref === "string") return this.convertRef(node.$ref, file, open);
    const out: JsonObject = {};
    for (const keyword of [
      "type",
      "enum",
      "format",
      "pattern",
      "minLength",
      "maxLength",
      "minItems",
      "maxItems",
      "uniqueItems",
      "multipleOf",
      "minimum",
      "maximum",
    ]) {
      if (node[keyword] !== undefined) out[keyword] = node[keyword];
    }
    // `type: file`, and a bare `type: object` (autorest reads it as "any JSON value"), constrain nothing.
    if (node.type === "file" || (node.type === "object" && !describesObject(node))) delete out.type;
    if (node.exclusiveMinimum === true && typeof node.minimum === "number") {
      out.exclusiveMinimum = node.minimum;
      delete out.minimum;
    }
    if (node.exclusiveMaximum === true && typeof node.maximum === "number") {
      out.exclusiveMaximum = node.maximum;
      delete out.maximum;
    }
    if (isJsonObject(node.items)) out.items = this.convert(node.items, file, false);
    if (isJsonObject(node.properties)) {
      const properties: JsonObject = {};
      for (const [name, property] of Object.entries(node.properties)) {
        if (isJsonObject(property)) properties[name] = this.convert(property, file, false);
      }
      out.properties = properties;
    }
    if (Array.isArray(node.required)) {
      const required = node.required.filter(
        (name): name is string =>
          typeof name === "string" && !(this.direction === "request" && this.isReadOnly(node, name, file)),
      );
      if (required.length > 0) out.required = required;
    }
    if (declaresOpennessAsProperty(node)) out.additionalProperties = true;
    else if (typeof node.additionalProperties === "boolean")
      out.additionalProperties = node.additionalProperties;
    else if (isJsonObject(node.additionalProperties))
      out.additionalProperties = this.convert(node.additionalProperties, file, false);
    if (Array.isArray(node.allOf)) {
      out.allOf = node.allOf.filter(isJsonObject).map((member) => this.convert(member, file, true));
    }
    if (!open && isClosable(node)) out.unevaluatedProperties = false;
    if (node["x-nullable"] === true) return { anyOf: [{ type: "null" }, out] };
    return out;
  }

  private convertRef(ref: string, file: string, open: boolean): JsonObject {
    const key = this.compiler.definitionKeyOfRef(ref, file);
    if (key) return { $ref: definitionUri(key, open) };
    // A ref to something other than a definition (rare): inline it.
    const resolved = this.compiler.resolve(ref, file);
    if (!isJsonObject(resolved.node)) throw new Error(`$ref "${ref}" in ${file} is not a schema object`);
    return this.convert(resolved.node, resolved.file, open);
  }

  private isReadOnly(node: JsonObject, propertyName: string, file: string): boolean {
    const properties = isJsonObject(node.properties) ? node.properties : {};
    const property = properties[propertyName];
    if (!isJsonObject(property)) return false;
    if (property.readOnly === true) return true;
    if (typeof property.$ref === "string") {
      const resolved = this.compiler.resolve(property.$ref, file);
      return isJsonObject(resolved.node) && resolved.node.readOnly === true;
    }
    return false;
  }
}

/**
 * A swagger authoring slip: `additionalProperties` written inside `properties` (e.g.
 * OperationalInsights errorInfo, "Additional properties that can be provided on the error
 * info object"). The intent is an open object, so it is read as one.
 */
function declaresOpennessAsProperty(node: JsonObject): boolean {
  return isJsonObject(node.properties) && isJsonObject(node.properties.additionalProperties);
}

function describesObject(node: JsonObject): boolean {
  return (
    isJsonObject(node.properties) || Array.isArray(node.allOf) || node.additionalProperties !== undefined
  );
}

/** Closed unless the spec leaves extra properties open or lists none. */
function isClosable(node: JsonObject): boolean {
  if (node.additionalProperties !== undefined || declaresOpennessAsProperty(node)) return false;
  return isJsonObject(node.properties) || Array.isArray(node.allOf);
}

function keyOf(key: DefinitionKey): string {
  return `${key.file}#${key.name}`;
}

function fileUri(file: string): string {
  return pathToFileURL(file).href;
}

function definitionUri(key: DefinitionKey, open: boolean): string {
  const name = `${key.name}${open ? OPEN_SUFFIX : ""}`;
  return `${fileUri(key.file)}#/definitions/${encodeURIComponent(escapePointerSegment(name))}`;
}
