/**
 * The `identity` block of a resource: built from the estate's identities, validated when a
 * PATCH replaces it, and asked which principal unwraps the resource's key.
 */
import type { SandboxIdentity } from "../model.js";
import type { SandboxStore } from "../store.js";
import { type ArmErrorStyle, badRequest } from "./armErrors.js";
import { isJsonObject, type JsonObject, optionalString, requireJsonObject } from "./patchBody.js";

export function userAssignedIdentityBlock(identity: SandboxIdentity & { resourceId: string }): JsonObject {
  return {
    type: "UserAssigned",
    userAssignedIdentities: {
      [identity.resourceId]: { principalId: identity.objectId, clientId: identity.clientId },
    },
  };
}

export function systemAssignedIdentityBlock(identity: SandboxIdentity, tenantId: string): JsonObject {
  return { type: "SystemAssigned", principalId: identity.objectId, tenantId };
}

/** The identity block a resource gets for an estate identity: user-assigned when it has an ARM id. */
export function identityBlockFor(identity: SandboxIdentity, tenantId: string): JsonObject {
  return identity.resourceId
    ? userAssignedIdentityBlock({ ...identity, resourceId: identity.resourceId })
    : systemAssignedIdentityBlock(identity, tenantId);
}

export function findUserAssignedIdentity(
  store: SandboxStore,
  resourceId: string,
): SandboxIdentity | undefined {
  const wanted = resourceId.toLowerCase();
  for (const identity of store.identities.values()) {
    if (identity.resourceId?.toLowerCase() === wanted) return identity;
  }
  return undefined;
}

/**
 * Validate an `identity` block sent in a PATCH and fill the read-only ids as ARM does.
 * System-assigned identities keep the principal the resource already had.
 */
export function resolveRequestedIdentity(
  store: SandboxStore,
  requested: unknown,
  current: unknown,
  allowedTypes: readonly string[],
  style: ArmErrorStyle,
): JsonObject {
  const block = requireJsonObject(requested, "identity", style);
  const type = optionalString(block.type, "identity.type", style);
  if (!type || !allowedTypes.includes(type)) {
    throw badRequest(`The value of 'identity.type' must be one of ${allowedTypes.join(", ")}.`, style);
  }
  const resolved: JsonObject = { type };
  if (type.includes("SystemAssigned")) {
    const existing = isJsonObject(current) ? current : {};
    if (typeof existing.principalId !== "string") {
      throw badRequest("The sandbox cannot add a system-assigned identity to an existing resource.", style);
    }
    resolved.principalId = existing.principalId;
    resolved.tenantId = existing.tenantId ?? store.tenantId;
  }
  if (type.includes("UserAssigned")) {
    const requestedIds = requireJsonObject(
      block.userAssignedIdentities,
      "identity.userAssignedIdentities",
      style,
    );
    const userAssignedIdentities: JsonObject = {};
    for (const resourceId of Object.keys(requestedIds)) {
      const identity = findUserAssignedIdentity(store, resourceId);
      if (!identity?.resourceId) {
        throw badRequest(
          `The user-assigned identity '${resourceId}' was not found. Check the identity's resource id.`,
          style,
          "InvalidIdentity",
        );
      }
      userAssignedIdentities[identity.resourceId] = {
        principalId: identity.objectId,
        clientId: identity.clientId,
      };
    }
    if (Object.keys(userAssignedIdentities).length === 0) {
      throw badRequest("'identity.userAssignedIdentities' must name at least one identity.", style);
    }
    resolved.userAssignedIdentities = userAssignedIdentities;
  }
  return resolved;
}

/** Principal id of the user-assigned identity `resourceId` in an identity block, if assigned there. */
export function userAssignedPrincipal(identityBlock: unknown, resourceId: string): string | undefined {
  if (!isJsonObject(identityBlock) || !isJsonObject(identityBlock.userAssignedIdentities)) return undefined;
  for (const [id, entry] of Object.entries(identityBlock.userAssignedIdentities)) {
    if (
      id.toLowerCase() === resourceId.toLowerCase() &&
      isJsonObject(entry) &&
      typeof entry.principalId === "string"
    ) {
      return entry.principalId;
    }
  }
  return undefined;
}

export function systemAssignedPrincipal(identityBlock: unknown): string | undefined {
  if (!isJsonObject(identityBlock)) return undefined;
  return typeof identityBlock.principalId === "string" ? identityBlock.principalId : undefined;
}
