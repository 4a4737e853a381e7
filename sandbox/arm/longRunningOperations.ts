/**
 * PATCH as a long-running operation. A resource under update carries `pendingUpdate` and
 * shows its "updating" provisioning state; when `completesAt` has passed the operation ends
 * (on the next background tick or the next request that looks, whichever comes first):
 * Succeeded — the resource takes its target body and `armResourceChanged` is emitted — or
 * Failed (a `failOperation` fault rule) — the resource keeps its keys and shows Failed.
 * Operation status URLs use the real providers' shapes:
 *   Kusto:      /subscriptions/{s}/providers/Microsoft.Kusto/locations/{region}/operationResults/{id}
 *   DocumentDB: /subscriptions/{s}/providers/Microsoft.DocumentDB/locations/{region}/operationsStatus/{id}
 */
import { randomUUID } from "node:crypto";
import type { SandboxArmResource, SandboxAsyncOperation } from "../model.js";
import type { SandboxBackgroundLoop } from "../registry.js";
import type { SandboxStore } from "../store.js";
import type { ArmProvider, ArmResourceKind, ArmUpdateBehaviour } from "./armResourceKind.js";
import { withNewEtag } from "./etags.js";
import type { JsonObject } from "./patchBody.js";

export interface StartedOperation {
  operation: SandboxAsyncOperation;
  /** Path (without host) of the operation status URL. */
  statusPath: string;
}

function statusPath(
  provider: ArmProvider,
  subscriptionId: string,
  region: string,
  operationId: string,
): string {
  const collection = provider === "Microsoft.Kusto" ? "operationResults" : "operationsStatus";
  return `/subscriptions/${subscriptionId}/providers/${provider}/locations/${region}/${collection}/${operationId}`;
}

export function startUpdate(
  store: SandboxStore,
  kind: ArmResourceKind & { update: ArmUpdateBehaviour },
  resource: SandboxArmResource,
  targetBody: JsonObject,
  failWith: { code: string; message: string } | undefined,
): StartedOperation {
  const now = store.now();
  const operationId = randomUUID();
  const operation: SandboxAsyncOperation = {
    id: operationId,
    resourceId: resource.id,
    status: "InProgress",
    startTime: now,
  };
  store.asyncOperations.set(operationId, operation);
  resource.pendingUpdate = {
    operationId,
    startedAt: now,
    completesAt: now + Math.max(0, store.latency.lroDurationMs),
    targetBody,
    ...(failWith ? { failWith } : {}),
  };
  // Every write gives the resource a new etag (where it has one): the accepted PATCH here, and
  // the operation's end below.
  resource.body = withNewEtag(kind.update.withProvisioningPhase(resource.body, "updating"));
  const subscriptionId = resource.id.split("/")[2] ?? "";
  return {
    operation,
    statusPath: statusPath(
      kind.provider,
      subscriptionId,
      kind.update.operationLocation(store, resource),
      operationId,
    ),
  };
}

/** End every operation whose time has come. */
export function completeDueOperations(
  store: SandboxStore,
  kindOf: (resource: SandboxArmResource) => ArmResourceKind | undefined,
): void {
  const now = store.now();
  for (const resource of store.armResources.values()) {
    const pending = resource.pendingUpdate;
    if (!pending || pending.completesAt > now) continue;
    const update = kindOf(resource)?.update;
    const operation = store.asyncOperations.get(pending.operationId);
    resource.pendingUpdate = undefined;
    if (pending.failWith || !update) {
      const error = pending.failWith ?? {
        code: "InternalServerError",
        message: `The sandbox has no update behaviour for '${resource.type}'.`,
      };
      resource.body = update
        ? withNewEtag(update.withProvisioningPhase(resource.body, "failed"))
        : resource.body;
      if (operation) Object.assign(operation, { status: "Failed", endTime: now, error });
      continue;
    }
    resource.body = withNewEtag(update.withProvisioningPhase(pending.targetBody, "succeeded"));
    if (operation) Object.assign(operation, { status: "Succeeded", endTime: now });
    store.events.emit("armResourceChanged", { id: resource.id });
  }
}

/** The operation status body in the provider's shape (Kusto OperationResult, or ARM's async operation). */
export function operationStatusBody(
  provider: ArmProvider,
  operation: SandboxAsyncOperation,
  statusUrlPath: string,
): JsonObject {
  const startTime = new Date(operation.startTime).toISOString();
  const endTime = operation.endTime !== undefined ? new Date(operation.endTime).toISOString() : undefined;
  if (provider === "Microsoft.Kusto") {
    const status = operation.status === "InProgress" ? "Running" : operation.status;
    return {
      id: statusUrlPath,
      name: operation.id,
      status,
      startTime,
      ...(endTime ? { endTime } : {}),
      percentComplete: operation.status === "InProgress" ? 50 : 100,
      properties: {
        operationKind: "ClusterUpdate",
        provisioningState: status === "Running" ? "Running" : status,
      },
      ...(operation.error ? { error: operation.error } : {}),
    };
  }
  return {
    id: statusUrlPath,
    name: operation.id,
    status: operation.status === "InProgress" ? "Dequeued" : operation.status,
    startTime,
    ...(endTime ? { endTime } : {}),
    ...(operation.error ? { error: operation.error } : {}),
  };
}

export function longRunningOperationLoop(
  kindOf: (resource: SandboxArmResource) => ArmResourceKind | undefined,
): SandboxBackgroundLoop {
  return {
    name: "arm-long-running-operations",
    tick: (store) => completeDueOperations(store, kindOf),
  };
}
