/**
 * Key Vault and Managed HSM key semantics that do not depend on HTTP: finding vaults,
 * keys and versions, RBAC checks on the key scope, validity checks, creating versions and
 * writing audit records. The HTTP service (service.ts) and the simulated consumers
 * (consumerUnwrap) both go through these functions, so a consumer's unwrap is judged and
 * logged exactly like a real unwrapKey call.
 *
 * Store conventions (set by seed.ts): `store.vaults` is keyed by lower-case vault name and
 * `vault.keys` by lower-case key name (Key Vault names are case-insensitive).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { newCorrelationId, recordAudit } from "../audit.js";
import type { SandboxKey, SandboxKeyVersion, SandboxVault } from "../model.js";
import { isAuthorized, type KeyOperationPermission, keyVaultDataActions } from "../rbac.js";
import type { SandboxStore } from "../store.js";
import { allocateRsaKeyMaterial, rsaUnwrap, rsaWrap } from "./keyMaterial.js";

/** A failure answered in Key Vault's error shape `{error:{code,message,innererror?}}`. */
export class KeyVaultError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly innerCode?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "KeyVaultError";
  }

  toBody(): { error: { code: string; message: string; innererror?: { code: string } } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.innerCode ? { innererror: { code: this.innerCode } } : {}),
      },
    };
  }
}

/** Who calls, as the audit log records it. */
export interface KeyVaultCaller {
  objectId: string;
  ipAddress: string;
  appId?: string;
}

export const DEFAULT_KEY_OPS = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"];

export function findVault(store: SandboxStore, name: string): SandboxVault | undefined {
  return store.vaults.get(name.toLowerCase());
}

/** `https://<vault>.vault.azure.net/keys/<name>[/<version>]`. */
export function keyIdentifier(vault: SandboxVault, keyName: string, version?: string): string {
  return `${vault.uri}keys/${keyName}${version ? `/${version}` : ""}`;
}

/** The RBAC scope of a key: `<vault resource id>/keys/<name>`. */
export function keyScope(vault: SandboxVault, keyName: string): string {
  return `${vault.resourceId}/keys/${keyName}`;
}

export function dataActionFor(vault: SandboxVault, permission: KeyOperationPermission): string {
  return keyVaultDataActions[vault.kind][permission];
}

/** Throws 403 ForbiddenByRbac unless the caller may do `permission` on the key (or the vault). */
export function authorizeKeyOperation(
  store: SandboxStore,
  caller: KeyVaultCaller,
  vault: SandboxVault,
  keyName: string | undefined,
  permission: KeyOperationPermission,
): void {
  const scope = keyName === undefined ? vault.resourceId : keyScope(vault, keyName);
  const action = dataActionFor(vault, permission);
  if (isAuthorized(store, caller.objectId, scope, action, "data")) return;
  throw forbiddenByRbac(store, caller, vault, scope, action);
}

/** Key Vault's 403 for a caller whose role assignments do not grant `action` on `scope`. */
export function forbiddenByRbac(
  store: SandboxStore,
  caller: KeyVaultCaller,
  vault: SandboxVault,
  scope: string,
  action: string,
): KeyVaultError {
  const message =
    "Caller is not authorized to perform action on resource.\r\n" +
    "If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n" +
    `Caller: appid=${caller.appId ?? "unknown"};oid=${caller.objectId};iss=https://sts.windows.net/${store.tenantId}/\r\n` +
    `Action: '${action}'\r\n` +
    `Resource: '${scope.toLowerCase()}'\r\n` +
    "Assignment: (not found)\r\n" +
    "DenyAssignmentId: null\r\n" +
    "DecisionReason: null \r\n" +
    `Vault: ${vault.name};location=${vault.location}\r\n`;
  return new KeyVaultError(403, "Forbidden", message, "ForbiddenByRbac");
}

/** Whether an identity may get, wrap and unwrap with a key: what a CMK consumer needs. */
export function identityCanUseKey(
  store: SandboxStore,
  objectId: string,
  vault: SandboxVault,
  keyName: string,
): boolean {
  const scope = keyScope(vault, keyName);
  return (["read", "wrap", "unwrap"] as const).every((permission) =>
    isAuthorized(store, objectId, scope, dataActionFor(vault, permission), "data"),
  );
}

function keyNotFound(nameOrId: string): KeyVaultError {
  return new KeyVaultError(
    404,
    "KeyNotFound",
    `A key with (name/id) ${nameOrId} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );
}

export function requireKey(vault: SandboxVault, keyName: string): SandboxKey {
  const key = vault.keys.get(keyName.toLowerCase());
  if (!key) throw keyNotFound(keyName);
  return key;
}

/** The named version, or the newest one when `version` is empty. */
export function requireVersion(key: SandboxKey, version: string | undefined): SandboxKeyVersion {
  if (!version) {
    const newest = key.versions[key.versions.length - 1];
    if (!newest) throw keyNotFound(key.name);
    return newest;
  }
  const found = key.versions.find((candidate) => candidate.version === version.toLowerCase());
  if (!found) throw keyNotFound(`${key.name}/${version}`);
  return found;
}

/** The operation names Key Vault uses in "Operation X is not allowed ..." messages. */
export type CryptoOperationName = "get" | "wrapKey" | "unwrapKey";

/**
 * Refuse an operation on a disabled version, or a wrap outside the validity period. Key
 * Vault still unwraps with an expired key so data wrapped before expiry stays readable.
 *
 * A disabled version answers 403 `Forbidden` with inner code `KeyDisabled` and the message
 * "Operation <op> is not allowed on a disabled key." — the wording Key Vault uses for disabled
 * objects (for secrets, "Operation get is not allowed on a disabled secret." with inner code
 * `SecretDisabled`, as Azure/azure-sdk-for-js#24756 records it from the live service).
 */
export function requireUsable(version: SandboxKeyVersion, operation: CryptoOperationName, now: number): void {
  if (!version.enabled) {
    throw new KeyVaultError(
      403,
      "Forbidden",
      `Operation ${operation} is not allowed on a disabled key.`,
      "KeyDisabled",
    );
  }
  if (operation === "get") return;
  if (version.nbf !== undefined && now < version.nbf) {
    throw new KeyVaultError(
      403,
      "Forbidden",
      `Operation ${operation} is not allowed on a key that is not yet valid (nbf).`,
      "KeyNotYetValid",
    );
  }
  if (operation === "wrapKey" && version.exp !== undefined && now >= version.exp) {
    throw new KeyVaultError(
      403,
      "Forbidden",
      `Operation ${operation} is not allowed on an expired key.`,
      "KeyExpired",
    );
  }
  if (!version.keyOps.includes(operation)) {
    throw new KeyVaultError(
      403,
      "Forbidden",
      `Operation ${operation} is not permitted by this key's key_ops (${version.keyOps.join(", ")}).`,
      "KeyOperationNotAllowed",
    );
  }
}

/**
 * Managed HSM keeps at most 100 versions of a key ("Number of versions per key: 100" in the
 * Managed HSM object limits of learn.microsoft.com/azure/key-vault/general/service-limits).
 * Vaults have no such limit.
 */
export const MANAGED_HSM_MAX_KEY_VERSIONS = 100;

/**
 * Refuse a create or rotate that would give a Managed HSM key its 101st version. No public
 * record of the service's exact answer was found; the sandbox answers as Managed HSM answers
 * other refused requests: 400 `BadParameter`, the message ending in an Activity ID (see
 * Azure/azure-sdk-for-net#32260), nothing created.
 */
export function requireRoomForNewVersion(vault: SandboxVault, key: SandboxKey): void {
  if (vault.kind !== "managedHsm" || key.versions.length < MANAGED_HSM_MAX_KEY_VERSIONS) return;
  throw new KeyVaultError(
    400,
    "BadParameter",
    `Key '${key.name}' already has ${key.versions.length} versions, the most a Managed HSM keeps for one key (${MANAGED_HSM_MAX_KEY_VERSIONS}); no new version was created. (Activity ID: ${randomUUID()})`,
  );
}

/** Key Vault's DeletionRecoveryLevel for keys of this vault. */
export function recoveryLevelOf(vault: SandboxVault): string {
  if (!vault.softDelete) return "Purgeable";
  const customized = vault.softDeleteRetentionInDays < 90 ? "CustomizedRecoverable" : "Recoverable";
  return vault.purgeProtection ? customized : `${customized}+Purgeable`;
}

export function newVersionId(): string {
  return randomBytes(16).toString("hex");
}

export interface NewVersionAttributes {
  enabled?: boolean;
  nbf?: number;
  exp?: number;
  tags?: Record<string, string>;
  keyOps?: string[];
  /** Creation time; defaults to now. Seeding uses it to create old versions. */
  created?: number;
}

/** Append a new version with RSA material of its own (made on first use) and announce it (Event Grid listens). */
export function addKeyVersion(
  store: SandboxStore,
  vault: SandboxVault,
  key: SandboxKey,
  attributes: NewVersionAttributes = {},
  announce = true,
): SandboxKeyVersion {
  const created = attributes.created ?? store.now();
  const version: SandboxKeyVersion = {
    version: newVersionId(),
    created,
    updated: created,
    enabled: attributes.enabled ?? true,
    nbf: attributes.nbf,
    exp: attributes.exp,
    tags: { ...(attributes.tags ?? {}) },
    keyOps: [...(attributes.keyOps ?? key.versions.at(-1)?.keyOps ?? DEFAULT_KEY_OPS)],
    material: allocateRsaKeyMaterial(store, key.size),
  };
  key.versions.push(version);
  if (announce)
    store.events.emit("keyVersionCreated", { vault, keyName: key.name, version: version.version });
  return version;
}

const resultSignatures: Record<number, string> = {
  200: "OK",
  201: "Created",
  204: "NoContent",
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  429: "TooManyRequests",
  500: "InternalServerError",
  503: "ServiceUnavailable",
};

/** Write the audit record of one data-plane call. */
export function auditKeyVaultCall(
  store: SandboxStore,
  call: {
    vault: SandboxVault;
    caller: KeyVaultCaller;
    operationName: string;
    id: string;
    /** The URL the caller sent, with its api-version. */
    requestUri: string;
    status: number;
    startedAt: number;
  },
): void {
  const time = store.now();
  recordAudit(store, {
    time,
    vault: call.vault.name,
    vaultKind: call.vault.kind,
    operationName: call.operationName,
    id: call.id,
    requestUri: call.requestUri,
    callerObjectId: call.caller.objectId,
    ...(call.caller.appId ? { callerAppId: call.caller.appId } : {}),
    callerIpAddress: call.caller.ipAddress,
    httpStatusCode: call.status,
    resultType: call.status < 400 ? "Success" : "Failure",
    resultSignature: resultSignatures[call.status] ?? String(call.status),
    correlationId: newCorrelationId(),
    durationMs: Math.max(0, time - call.startedAt),
  });
}

/** Where simulated consumers' calls come from in audit records (an Azure service address). */
export const CONSUMER_IP_ADDRESS = "10.0.0.4";
/** The api-version in the request URI of a simulated consumer's call. */
const CONSUMER_API_VERSION = "7.4";

/** A simulated consumer's call on its key: unwrap (the periodic use) or wrap (re-wrapping on a switch). */
export interface ConsumerKeyCall {
  callerObjectId: string;
  vault: string;
  key: string;
  version: string;
  /** Default "unwrap". */
  operation?: "unwrap" | "wrap";
}

/**
 * What a simulated consumer does with its key: unwrap a freshly wrapped 32-byte
 * content-encryption key with the version it uses (or wrap one with a new version when it
 * switches), under its own identity. Judged and audited exactly like an HTTP unwrapKey or
 * wrapKey: operation KeyUnwrap/KeyWrap, request URI `<kid>/unwrapkey?api-version=…`, the
 * caller's object id and application id.
 */
export function consumerKeyOperation(
  store: SandboxStore,
  call: ConsumerKeyCall,
): { status: number; errorCode?: string } {
  const startedAt = store.now();
  const operation = call.operation ?? "unwrap";
  const vault = findVault(store, call.vault);
  if (!vault) return { status: 404, errorCode: "VaultNotFound" };
  const identity = store.identities.get(call.callerObjectId.toLowerCase());
  const caller: KeyVaultCaller = {
    objectId: call.callerObjectId,
    ipAddress: CONSUMER_IP_ADDRESS,
    ...(identity?.clientId ? { appId: identity.clientId } : {}),
  };
  let status = 200;
  let errorCode: string | undefined;
  try {
    authorizeKeyOperation(store, caller, vault, call.key, operation);
    const version = requireVersion(requireKey(vault, call.key), call.version);
    requireUsable(version, operation === "unwrap" ? "unwrapKey" : "wrapKey", store.now());
    const contentKey = randomBytes(32);
    const unwrapped = rsaUnwrap(
      version.material,
      "RSA-OAEP",
      rsaWrap(version.material, "RSA-OAEP", contentKey),
    );
    if (!unwrapped.equals(contentKey))
      throw new KeyVaultError(500, "InternalServerError", "Unwrap mismatch.");
  } catch (error) {
    if (!(error instanceof KeyVaultError)) throw error;
    status = error.status;
    errorCode = error.innerCode ?? error.code;
  }
  const id = keyIdentifier(vault, call.key, call.version);
  auditKeyVaultCall(store, {
    vault,
    caller,
    operationName: operation === "unwrap" ? "KeyUnwrap" : "KeyWrap",
    id,
    requestUri: `${id}/${operation === "unwrap" ? "unwrapkey" : "wrapkey"}?api-version=${CONSUMER_API_VERSION}`,
    status,
    startedAt,
  });
  return errorCode === undefined ? { status } : { status, errorCode };
}

/** The periodic unwrap of a simulated consumer (see consumerKeyOperation). */
export function consumerUnwrap(
  store: SandboxStore,
  call: Omit<ConsumerKeyCall, "operation">,
): { status: number; errorCode?: string } {
  return consumerKeyOperation(store, { ...call, operation: "unwrap" });
}
