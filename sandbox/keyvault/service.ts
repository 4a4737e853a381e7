/**
 * The Key Vault and Managed HSM keys data plane (`*.vault.azure.net`,
 * `*.managedhsm.azure.net`), following keys.json 2026-04-01 and its examples: create, get,
 * list keys, list versions (paged), update, rotate, rotation policy get/set, wrapKey and
 * unwrapKey. Authentication starts with the 401 challenge the SDK expects; authorization
 * is Azure RBAC on the key scope. Keys are never deleted or purged: those calls are
 * refused as for a principal without the permission. Every call is audited.
 */

import { json, type SandboxRequest, type SandboxResponse, type SandboxService } from "../http.js";
import { bearerToken, parseSandboxToken } from "../identity.js";
import type { SandboxKey, SandboxKeyVersion, SandboxVault } from "../model.js";
import type { KeyOperationPermission } from "../rbac.js";
import type { SandboxStore } from "../store.js";
import { isWrapAlgorithm, publicJwk, rsaUnwrap, rsaWrap } from "./keyMaterial.js";
import {
  addKeyVersion,
  auditKeyVaultCall,
  authorizeKeyOperation,
  DEFAULT_KEY_OPS,
  dataActionFor,
  findVault,
  forbiddenByRbac,
  type KeyVaultCaller,
  KeyVaultError,
  keyIdentifier,
  keyScope,
  recoveryLevelOf,
  requireKey,
  requireRoomForNewVersion,
  requireUsable,
  requireVersion,
} from "./operations.js";

/** api-versions the real service accepts (GA), including what @azure/keyvault-keys 4.10.2 sends. */
export const KEY_VAULT_API_VERSIONS = [
  "7.0",
  "7.1",
  "7.2",
  "7.3",
  "7.4",
  "7.5",
  "7.6",
  "2025-07-01",
  "2026-04-01",
];
const LATEST_API_VERSION = "2025-07-01";
const MAX_PAGE_SIZE = 25;
const MAX_TAGS = 15;
const KEY_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const KEY_OPERATIONS = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import", "export"];
const RSA_SIZES = [2048, 3072, 4096];
/** Key Vault's first-party application id, accepted as token audience like the resource URL. */
const KEY_VAULT_APP_ID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093";

function audienceOf(vault: SandboxVault): string {
  return vault.kind === "vault" ? "https://vault.azure.net" : "https://managedhsm.azure.net";
}

function vaultNameOf(host: string): string | undefined {
  const match = /^([^.]+)\.(vault\.azure\.net|managedhsm\.azure\.net)$/.exec(host);
  return match?.[1];
}

function badParameter(message: string): KeyVaultError {
  return new KeyVaultError(400, "BadParameter", message);
}

function challenge(store: SandboxStore, vault: SandboxVault, message: string): KeyVaultError {
  return new KeyVaultError(401, "Unauthorized", message, undefined, {
    "www-authenticate": `Bearer authorization="https://login.microsoftonline.com/${store.tenantId}", resource="${audienceOf(vault)}"`,
  });
}

/** The caller behind the bearer token, or a 401 exactly as Key Vault answers it. */
function authenticate(store: SandboxStore, vault: SandboxVault, request: SandboxRequest): KeyVaultCaller {
  const token = bearerToken(request.headers.authorization);
  if (!token) throw challenge(store, vault, "AKV10000: Request is missing a Bearer or PoP token.");
  const claims = parseSandboxToken(token);
  if (!claims) throw challenge(store, vault, "AKV10000: Request is missing a Bearer or PoP token.");
  const audience = claims.aud.replace(/\/$/, "");
  if (audience !== audienceOf(vault) && !(vault.kind === "vault" && audience === KEY_VAULT_APP_ID)) {
    throw challenge(
      store,
      vault,
      `AKV10022: Invalid audience. Expected ${audienceOf(vault)}, found: ${claims.aud}.`,
    );
  }
  if (claims.tid.toLowerCase() !== store.tenantId.toLowerCase()) {
    throw challenge(
      store,
      vault,
      `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${store.tenantId}/, found: https://sts.windows.net/${claims.tid}/.`,
    );
  }
  if (claims.exp * 1000 < store.now()) throw challenge(store, vault, "AKV10013: Token is expired.");
  return {
    objectId: claims.oid,
    ipAddress: request.remoteAddress,
    ...(claims.appid ? { appId: claims.appid } : {}),
  };
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

function attributesOf(vault: SandboxVault, version: SandboxKeyVersion): Record<string, unknown> {
  return {
    enabled: version.enabled,
    ...(version.nbf !== undefined ? { nbf: seconds(version.nbf) } : {}),
    ...(version.exp !== undefined ? { exp: seconds(version.exp) } : {}),
    created: seconds(version.created),
    updated: seconds(version.updated),
    recoveryLevel: recoveryLevelOf(vault),
    ...(vault.softDelete ? { recoverableDays: vault.softDeleteRetentionInDays } : {}),
  };
}

function tagsOf(version: SandboxKeyVersion): Record<string, unknown> {
  return Object.keys(version.tags).length > 0 ? { tags: { ...version.tags } } : {};
}

function keyBundle(
  vault: SandboxVault,
  key: SandboxKey,
  version: SandboxKeyVersion,
): Record<string, unknown> {
  return {
    key: {
      kid: keyIdentifier(vault, key.name, version.version),
      kty: key.kty,
      key_ops: [...version.keyOps],
      ...publicJwk(version.material),
    },
    attributes: attributesOf(vault, version),
    ...tagsOf(version),
  };
}

// --- body validation -------------------------------------------------------------------

type Fields = Record<string, unknown>;

function bodyObject(request: SandboxRequest, required: boolean): Fields {
  if (request.body.length === 0) {
    if (required) throw badParameter("The request body is missing.");
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(request.body.toString("utf8"));
  } catch {
    throw badParameter("The request body is not valid JSON.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw badParameter("The request body must be a JSON object.");
  }
  return parsed as Fields;
}

function optionalTags(fields: Fields): Record<string, string> | undefined {
  const tags = fields.tags;
  if (tags === undefined || tags === null) return undefined;
  if (typeof tags !== "object" || Array.isArray(tags))
    throw badParameter("tags must be an object of strings.");
  const entries = Object.entries(tags as Fields);
  if (entries.length > MAX_TAGS) throw badParameter(`A key can have at most ${MAX_TAGS} tags.`);
  for (const [name, value] of entries) {
    if (typeof value !== "string") throw badParameter(`Tag "${name}" must have a string value.`);
    if (name.length > 512 || value.length > 256)
      throw badParameter(`Tag "${name}" is too long (name 512, value 256).`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

function optionalKeyOps(fields: Fields): string[] | undefined {
  const ops = fields.key_ops;
  if (ops === undefined || ops === null) return undefined;
  if (!Array.isArray(ops) || ops.some((op) => typeof op !== "string" || !KEY_OPERATIONS.includes(op))) {
    throw badParameter(`key_ops must be an array of: ${KEY_OPERATIONS.join(", ")}.`);
  }
  return [...new Set(ops as string[])];
}

interface AttributeChanges {
  enabled?: boolean;
  nbf?: number | null;
  exp?: number | null;
}

function optionalAttributes(fields: Fields): AttributeChanges {
  const attributes = fields.attributes;
  if (attributes === undefined || attributes === null) return {};
  if (typeof attributes !== "object" || Array.isArray(attributes))
    throw badParameter("attributes must be an object.");
  const a = attributes as Fields;
  const changes: AttributeChanges = {};
  if (a.enabled !== undefined && a.enabled !== null) {
    if (typeof a.enabled !== "boolean") throw badParameter("attributes.enabled must be true or false.");
    changes.enabled = a.enabled;
  }
  for (const name of ["nbf", "exp"] as const) {
    const value = a[name];
    if (value === undefined) continue;
    if (value === null) {
      changes[name] = null;
      continue;
    }
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      throw badParameter(`attributes.${name} must be a Unix time in seconds.`);
    }
    changes[name] = value * 1000;
  }
  return changes;
}

function base64UrlValue(fields: Fields): Buffer {
  const value = fields.value;
  if (typeof value !== "string" || value.length === 0 || !/^[A-Za-z0-9_\-+/=]+$/.test(value)) {
    throw badParameter("value must be a base64url string.");
  }
  return Buffer.from(value, "base64url");
}

// --- paging ----------------------------------------------------------------------------

function pageOf<T>(
  items: T[],
  request: SandboxRequest,
  baseUrl: string,
  apiVersion: string,
): { page: T[]; nextLink?: string } {
  const maxText = request.query.get("maxresults");
  let size = MAX_PAGE_SIZE;
  if (maxText !== null) {
    size = Number(maxText);
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
      throw badParameter(`maxresults must be an integer from 1 to ${MAX_PAGE_SIZE}.`);
    }
  }
  const token = request.query.get("$skiptoken");
  let offset = 0;
  if (token !== null) {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
      const candidate = (parsed as { offset?: unknown } | null)?.offset;
      if (typeof candidate !== "number" || !Number.isInteger(candidate) || candidate < 0)
        throw new Error("offset");
      offset = candidate;
    } catch {
      throw badParameter("The $skiptoken is not valid.");
    }
  }
  const page = items.slice(offset, offset + size);
  const next = offset + size;
  // The real service sends "nextLink": null on the last page; keys.json types it as a string, so omit it.
  if (next >= items.length) return { page };
  const skipToken = Buffer.from(JSON.stringify({ offset: next })).toString("base64url");
  return {
    page,
    nextLink: `${baseUrl}?api-version=${apiVersion}&$skiptoken=${skipToken}${maxText !== null ? `&maxresults=${size}` : ""}`,
  };
}

// --- rotation policy -------------------------------------------------------------------

const ISO_DURATION = /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/;

/** An ISO 8601 duration in ms, counting a year as 365 days and a month as 30. */
export function isoDurationMs(duration: string): number | undefined {
  const match = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(
    duration,
  );
  if (!match || !ISO_DURATION.test(duration)) return undefined;
  const [years, months, weeks, days, hours, minutes, secs] = match.slice(1).map((part) => Number(part ?? 0));
  const day = 24 * 3600 * 1000;
  return (
    (years ?? 0) * 365 * day +
    (months ?? 0) * 30 * day +
    (weeks ?? 0) * 7 * day +
    (days ?? 0) * day +
    (hours ?? 0) * 3600 * 1000 +
    (minutes ?? 0) * 60 * 1000 +
    (secs ?? 0) * 1000
  );
}

function validRotationPolicy(fields: Fields): { lifetimeActions: unknown[]; expiryTime?: string } {
  const actions = fields.lifetimeActions ?? [];
  if (!Array.isArray(actions)) throw badParameter("lifetimeActions must be an array.");
  const lifetimeActions = actions.map((item, index) => {
    const action = (item ?? {}) as Fields;
    const trigger = (action.trigger ?? {}) as Fields;
    const type = ((action.action ?? {}) as Fields).type;
    const typeName = typeof type === "string" ? type.toLowerCase() : "";
    if (typeName !== "rotate" && typeName !== "notify") {
      throw badParameter(`lifetimeActions[${index}].action.type must be "Rotate" or "Notify".`);
    }
    const after = trigger.timeAfterCreate;
    const before = trigger.timeBeforeExpiry;
    if ((after === undefined) === (before === undefined)) {
      throw badParameter(
        `lifetimeActions[${index}].trigger needs exactly one of timeAfterCreate and timeBeforeExpiry.`,
      );
    }
    const duration = after ?? before;
    if (typeof duration !== "string" || isoDurationMs(duration) === undefined) {
      throw badParameter(`lifetimeActions[${index}].trigger must be an ISO 8601 duration such as P90D.`);
    }
    return {
      trigger: after !== undefined ? { timeAfterCreate: after } : { timeBeforeExpiry: before },
      action: { type: typeName === "rotate" ? "Rotate" : "Notify" },
    };
  });
  const attributes = fields.attributes;
  let expiryTime: string | undefined;
  if (attributes !== undefined && attributes !== null) {
    const value = (attributes as Fields).expiryTime;
    if (value !== undefined && value !== null) {
      if (typeof value !== "string" || isoDurationMs(value) === undefined) {
        throw badParameter("attributes.expiryTime must be an ISO 8601 duration such as P2Y.");
      }
      expiryTime = value;
    }
  }
  return { lifetimeActions, ...(expiryTime ? { expiryTime } : {}) };
}

function rotationPolicyBody(vault: SandboxVault, key: SandboxKey): Record<string, unknown> {
  if (!key.rotationPolicy) {
    // Without an explicit policy Key Vault reports its default: notify 30 days before expiry.
    return {
      lifetimeActions: [{ trigger: { timeBeforeExpiry: "P30D" }, action: { type: "Notify" } }],
      attributes: {},
    };
  }
  return { id: `${keyIdentifier(vault, key.name)}/rotationpolicy`, ...key.rotationPolicy };
}

// --- the service -----------------------------------------------------------------------

interface CallContext {
  store: SandboxStore;
  vault: SandboxVault;
  caller: KeyVaultCaller;
  request: SandboxRequest;
  apiVersion: string;
  /** Audit id to record (set by the handler as soon as it knows it). */
  auditId: string;
}

interface Route {
  operationName: string;
  handle(context: CallContext): SandboxResponse;
}

function versionedOrLatest(key: SandboxKey, version: string): SandboxKeyVersion {
  return requireVersion(key, version === "" ? undefined : version);
}

/**
 * The key a route works on. The caller's right to `permission` is checked before the key is
 * looked up, so a caller without it gets 403 whether or not the key exists.
 */
function authorizedKey(
  context: CallContext,
  keyName: string,
  permission: KeyOperationPermission,
): SandboxKey {
  authorizeKeyOperation(context.store, context.caller, context.vault, keyName, permission);
  return requireKey(context.vault, keyName);
}

function keyGet(keyName: string, version: string): Route {
  return {
    operationName: "KeyGet",
    handle(context) {
      const { store, vault } = context;
      const key = authorizedKey(context, keyName, "read");
      const found = versionedOrLatest(key, version);
      context.auditId = keyIdentifier(vault, key.name, found.version);
      requireUsable(found, "get", store.now());
      return json(200, keyBundle(vault, key, found));
    },
  };
}

function keyList(): Route {
  return {
    operationName: "KeyList",
    handle(context) {
      const { store, vault, caller, request, apiVersion } = context;
      authorizeKeyOperation(store, caller, vault, undefined, "read");
      const items = [...vault.keys.values()]
        .sort((a, b) => a.name.localeCompare(b.name))
        .flatMap((key) => {
          const newest = key.versions.at(-1);
          if (!newest) return [];
          return [
            {
              kid: keyIdentifier(vault, key.name),
              attributes: attributesOf(vault, newest),
              ...tagsOf(newest),
            },
          ];
        });
      const { page, nextLink } = pageOf(items, request, `${vault.uri}keys`, apiVersion);
      return json(200, { value: page, ...(nextLink ? { nextLink } : {}) });
    },
  };
}

function keyListVersions(keyName: string): Route {
  return {
    operationName: "KeyListVersions",
    handle(context) {
      const { vault, request, apiVersion } = context;
      const key = authorizedKey(context, keyName, "read");
      const items = key.versions.map((version) => ({
        kid: keyIdentifier(vault, key.name, version.version),
        attributes: attributesOf(vault, version),
        ...tagsOf(version),
      }));
      const { page, nextLink } = pageOf(
        items,
        request,
        `${keyIdentifier(vault, key.name)}/versions`,
        apiVersion,
      );
      return json(200, { value: page, ...(nextLink ? { nextLink } : {}) });
    },
  };
}

function validKtyFor(vault: SandboxVault, kty: unknown): string {
  if (kty === "RSA" || kty === "RSA-HSM") return vault.kind === "managedHsm" ? "RSA-HSM" : kty;
  if (typeof kty !== "string") throw badParameter("kty is required (RSA or RSA-HSM).");
  throw badParameter(`The sandbox creates RSA keys only; kty "${kty}" is not supported.`);
}

function keyCreate(keyName: string): Route {
  return {
    operationName: "KeyCreate",
    handle(context) {
      const { store, vault, caller, request } = context;
      authorizeKeyOperation(store, caller, vault, keyName, "create");
      if (!KEY_NAME.test(keyName))
        throw badParameter(`Key name "${keyName}" must be 1-127 letters, digits or dashes.`);
      const fields = bodyObject(request, true);
      const kty = validKtyFor(vault, fields.kty);
      const size = fields.key_size ?? 2048;
      if (typeof size !== "number" || !RSA_SIZES.includes(size)) {
        throw badParameter(`key_size must be one of ${RSA_SIZES.join(", ")} for RSA keys.`);
      }
      if (fields.public_exponent !== undefined && fields.public_exponent !== 65537) {
        throw badParameter("public_exponent must be 65537.");
      }
      const attributes = optionalAttributes(fields);
      const tags = optionalTags(fields);
      const keyOps = optionalKeyOps(fields) ?? DEFAULT_KEY_OPS;
      let key = vault.keys.get(keyName.toLowerCase());
      if (key) requireRoomForNewVersion(vault, key);
      if (!key) {
        key = { name: keyName, kty, size, versions: [] };
        vault.keys.set(keyName.toLowerCase(), key);
      } else {
        key.kty = kty;
        key.size = size;
      }
      const version = addKeyVersion(store, vault, key, {
        enabled: attributes.enabled ?? true,
        nbf: attributes.nbf ?? undefined,
        exp: attributes.exp ?? undefined,
        tags: tags ?? {},
        keyOps,
      });
      context.auditId = keyIdentifier(vault, key.name, version.version);
      return json(200, keyBundle(vault, key, version));
    },
  };
}

function keyRotate(keyName: string): Route {
  return {
    operationName: "KeyRotate",
    handle(context) {
      const { store, vault } = context;
      const key = authorizedKey(context, keyName, "rotate");
      requireRoomForNewVersion(vault, key);
      const current = key.versions.at(-1);
      const expiryTime = key.rotationPolicy?.attributes as { expiryTime?: unknown } | undefined;
      const expiresIn =
        typeof expiryTime?.expiryTime === "string" ? isoDurationMs(expiryTime.expiryTime) : undefined;
      const version = addKeyVersion(store, vault, key, {
        tags: current?.tags ?? {},
        keyOps: current?.keyOps ?? DEFAULT_KEY_OPS,
        ...(expiresIn !== undefined ? { exp: store.now() + expiresIn } : {}),
      });
      context.auditId = keyIdentifier(vault, key.name, version.version);
      return json(200, keyBundle(vault, key, version));
    },
  };
}

function keyUpdate(keyName: string, version: string): Route {
  return {
    operationName: "KeyUpdate",
    handle(context) {
      const { store, vault, request } = context;
      const key = authorizedKey(context, keyName, "update");
      const found = versionedOrLatest(key, version);
      context.auditId = keyIdentifier(vault, key.name, found.version);
      const fields = bodyObject(request, false);
      const attributes = optionalAttributes(fields);
      const tags = optionalTags(fields);
      const keyOps = optionalKeyOps(fields);
      if (attributes.enabled !== undefined) found.enabled = attributes.enabled;
      if (attributes.nbf !== undefined) found.nbf = attributes.nbf ?? undefined;
      if (attributes.exp !== undefined) found.exp = attributes.exp ?? undefined;
      if (tags !== undefined) found.tags = tags;
      if (keyOps !== undefined) found.keyOps = keyOps;
      found.updated = store.now();
      return json(200, keyBundle(vault, key, found));
    },
  };
}

function rotationPolicyGet(keyName: string): Route {
  return {
    operationName: "KeyRotationPolicyGet",
    handle(context) {
      const { vault } = context;
      const key = authorizedKey(context, keyName, "rotationPolicyRead");
      context.auditId = `${keyIdentifier(vault, key.name)}/rotationpolicy`;
      return json(200, rotationPolicyBody(vault, key));
    },
  };
}

function rotationPolicySet(keyName: string): Route {
  return {
    operationName: "KeyRotationPolicySet",
    handle(context) {
      const { store, vault, request } = context;
      const key = authorizedKey(context, keyName, "rotationPolicyWrite");
      context.auditId = `${keyIdentifier(vault, key.name)}/rotationpolicy`;
      const policy = validRotationPolicy(bodyObject(request, true));
      const now = seconds(store.now());
      const previous = key.rotationPolicy?.attributes as { created?: unknown } | undefined;
      key.rotationPolicy = {
        lifetimeActions: policy.lifetimeActions,
        attributes: {
          ...(policy.expiryTime ? { expiryTime: policy.expiryTime } : {}),
          created: typeof previous?.created === "number" ? previous.created : now,
          updated: now,
        },
      };
      return json(200, rotationPolicyBody(vault, key));
    },
  };
}

function keyCrypto(keyName: string, version: string, direction: "wrap" | "unwrap"): Route {
  return {
    operationName: direction === "wrap" ? "KeyWrap" : "KeyUnwrap",
    handle(context) {
      const { store, vault, request } = context;
      const key = authorizedKey(context, keyName, direction);
      const found = versionedOrLatest(key, version);
      context.auditId = keyIdentifier(vault, key.name, found.version);
      requireUsable(found, direction === "wrap" ? "wrapKey" : "unwrapKey", store.now());
      if (!key.kty.startsWith("RSA"))
        throw badParameter(`Key ${key.name} (${key.kty}) cannot wrap or unwrap keys.`);
      const fields = bodyObject(request, true);
      if (!isWrapAlgorithm(fields.alg))
        throw badParameter("alg must be one of RSA-OAEP, RSA-OAEP-256, RSA1_5.");
      const value = base64UrlValue(fields);
      let result: Buffer;
      try {
        result =
          direction === "wrap"
            ? rsaWrap(found.material, fields.alg, value)
            : rsaUnwrap(found.material, fields.alg, value);
      } catch {
        throw badParameter(
          direction === "wrap"
            ? `The value is too long to wrap with ${fields.alg} and a ${key.size}-bit key.`
            : `The value cannot be unwrapped with ${fields.alg} and key version ${found.version}.`,
        );
      }
      return json(200, {
        kid: keyIdentifier(vault, key.name, found.version),
        value: result.toString("base64url"),
      });
    },
  };
}

/** Delete, purge and recover are answered as for a principal without the permission; nothing is deleted. */
function refusedDelete(keyName: string, operationName: string): Route {
  return {
    operationName,
    handle(context) {
      const { store, vault, caller } = context;
      context.auditId = keyIdentifier(vault, keyName);
      throw forbiddenByRbac(store, caller, vault, keyScope(vault, keyName), dataActionFor(vault, "delete"));
    },
  };
}

function notSupported(request: SandboxRequest): Route {
  return {
    operationName: "Unsupported",
    handle() {
      throw new KeyVaultError(
        501,
        "NotImplemented",
        `The sandbox Key Vault does not implement ${request.method} ${request.path}; it serves keys: create, get, list, list versions, update, rotate, rotation policy, wrapkey, unwrapkey.`,
      );
    },
  };
}

function routeFor(request: SandboxRequest): Route {
  const segments = request.path.split("/").slice(1);
  const method = request.method;
  const [collection, name, third, fourth] = segments;
  const lower = (value: string | undefined) => value?.toLowerCase();
  if (lower(collection) === "deletedkeys" && name) {
    if (method === "DELETE") return refusedDelete(name, "KeyPurge");
    if (method === "POST" && lower(third) === "recover") return refusedDelete(name, "KeyRecover");
    return notSupported(request);
  }
  if (lower(collection) !== "keys") return notSupported(request);
  if (name === undefined || name === "") {
    return method === "GET" && segments.length <= 2 ? keyList() : notSupported(request);
  }
  if (segments.length === 2 || (segments.length === 3 && third === "")) {
    if (method === "GET") return keyGet(name, "");
    if (method === "PATCH") return keyUpdate(name, "");
    if (method === "DELETE") return refusedDelete(name, "KeyDelete");
    return notSupported(request);
  }
  const action = lower(third);
  if (segments.length === 3) {
    if (action === "versions" && method === "GET") return keyListVersions(name);
    if (action === "create" && method === "POST") return keyCreate(name);
    if (action === "rotate" && method === "POST") return keyRotate(name);
    if (action === "rotationpolicy" && method === "GET") return rotationPolicyGet(name);
    if (action === "rotationpolicy" && method === "PUT") return rotationPolicySet(name);
    if (method === "GET" && third !== undefined) return keyGet(name, third);
    if (method === "PATCH" && third !== undefined) return keyUpdate(name, third);
    return notSupported(request);
  }
  if (segments.length === 4 && method === "POST" && third !== undefined) {
    if (lower(fourth) === "wrapkey") return keyCrypto(name, third, "wrap");
    if (lower(fourth) === "unwrapkey") return keyCrypto(name, third, "unwrap");
  }
  return notSupported(request);
}

function errorResponse(error: KeyVaultError): SandboxResponse {
  return json(error.status, error.toBody(), error.headers);
}

async function handleKeyVault(request: SandboxRequest, store: SandboxStore): Promise<SandboxResponse> {
  const startedAt = store.now();
  const vaultName = vaultNameOf(request.host);
  const vault = vaultName ? findVault(store, vaultName) : undefined;
  if (!vault) {
    // A vault that does not exist has no DNS name in Azure; the closest HTTP answer is 404.
    return json(404, {
      error: {
        code: "VaultNotFound",
        message: `No vault or managed HSM is served at ${request.host} by this sandbox.`,
      },
    });
  }
  const apiVersion = request.query.get("api-version");
  if (!apiVersion) {
    return errorResponse(badParameter("The api-version query parameter is missing."));
  }
  if (!KEY_VAULT_API_VERSIONS.includes(apiVersion)) {
    return errorResponse(
      badParameter(
        `The specified version (${apiVersion}) is not recognized. Consider using the latest supported version (${LATEST_API_VERSION}).`,
      ),
    );
  }
  const requestedId = `${vault.uri.replace(/\/$/, "")}${request.path}`;
  const requestUri = `${requestedId}?api-version=${apiVersion}`;
  let caller: KeyVaultCaller;
  try {
    caller = authenticate(store, vault, request);
  } catch (error) {
    if (!(error instanceof KeyVaultError)) throw error;
    auditKeyVaultCall(store, {
      vault,
      caller: { objectId: "", ipAddress: request.remoteAddress },
      operationName: "Authentication",
      id: requestedId,
      requestUri,
      status: error.status,
      startedAt,
    });
    return errorResponse(error);
  }
  const route = routeFor(request);
  const context: CallContext = { store, vault, caller, request, apiVersion, auditId: requestedId };
  let response: SandboxResponse;
  try {
    response = route.handle(context);
  } catch (error) {
    if (!(error instanceof KeyVaultError)) throw error;
    response = errorResponse(error);
  }
  if (route.operationName !== "Unsupported") {
    auditKeyVaultCall(store, {
      vault,
      caller,
      operationName: route.operationName,
      id: context.auditId,
      requestUri,
      status: response.status,
      startedAt,
    });
  }
  return response;
}

export const keyVaultService: SandboxService = {
  name: "keyvault",
  matches: (host) => host.endsWith(".vault.azure.net") || host.endsWith(".managedhsm.azure.net"),
  handle: handleKeyVault,
};
