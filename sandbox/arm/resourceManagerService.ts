/**
 * The sandbox's `management.azure.com`: GET and list for the consumer resource kinds, PATCH
 * as a long-running operation with the providers' validation, the operation status URLs,
 * and Resource Graph. Order of checks as in ARM: authentication, api-version, subscription
 * and resource group, authorization, then the resource itself. Every authenticated request
 * is charged to Resource Manager's budgets first (arm/throttling.ts): over budget it gets a
 * 429, otherwise its answer, errors included, carries the remaining-request headers.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { takeOperationFault } from "../faults.js";
import {
  json,
  readJson,
  SandboxHttpError,
  type SandboxRequest,
  type SandboxResponse,
  type SandboxService,
} from "../http.js";
import type { SandboxArmResource } from "../model.js";
import type { SandboxStore } from "../store.js";
import { requireApiVersion, resourceGraphApiVersions } from "./apiVersions.js";
import { type ArmCaller, authenticateArmCaller, callerMay, requireArmPermission } from "./armCaller.js";
import { type ArmErrorStyle, ArmRequestError, armErrorResponse, resourceNotFound } from "./armErrors.js";
import type { ArmProvider, ArmResourceKind, ArmUpdateBehaviour } from "./armResourceKind.js";
import { cassandraClusterKind, cassandraDataCenterKind } from "./cassandraClusters.js";
import { cosmosAccountKind } from "./cosmosAccounts.js";
import { requireIfMatch, withEtagOf } from "./etags.js";
import { checkKeyReference, sameKeyReference } from "./keyReference.js";
import { kustoClusterKind } from "./kustoClusters.js";
import {
  completeDueOperations,
  longRunningOperationLoop,
  operationStatusBody,
  startUpdate,
} from "./longRunningOperations.js";
import { answerResourceGraphQuery, type QueryRunner } from "./resourceGraph.js";
import { admitArmRequest } from "./throttling.js";

export const armResourceKinds: readonly ArmResourceKind[] = [
  kustoClusterKind,
  cosmosAccountKind,
  cassandraClusterKind,
  cassandraDataCenterKind,
];

export function kindOfResource(resource: Pick<SandboxArmResource, "type">): ArmResourceKind | undefined {
  const type = resource.type.toLowerCase();
  return armResourceKinds.find((kind) => kind.resourceType.toLowerCase() === type);
}

export const armLongRunningOperationLoop = longRunningOperationLoop(kindOfResource);

function findKind(provider: string, typeSegments: string[]): ArmResourceKind | undefined {
  return armResourceKinds.find(
    (kind) =>
      kind.provider.toLowerCase() === provider.toLowerCase() &&
      kind.typeSegments.length === typeSegments.length &&
      kind.typeSegments.every(
        (segment, index) => segment.toLowerCase() === typeSegments[index]?.toLowerCase(),
      ),
  );
}

function equalsIgnoreCase(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}

/** What a Resource Manager path addresses. */
type ArmRoute =
  | { kind: "resourceGraph" }
  | { kind: "operationStatus"; subscriptionId: string; provider: ArmProvider; operationId: string }
  | {
      kind: "collection";
      resourceKind: ArmResourceKind;
      subscriptionId: string;
      resourceGroup: string | undefined;
      /** For a child collection: the parent's id. */
      parentId: string | undefined;
      scope: string;
    }
  | {
      kind: "resource";
      resourceKind: ArmResourceKind;
      subscriptionId: string;
      resourceGroup: string;
      id: string;
    };

export function routeArmPath(path: string): ArmRoute | undefined {
  const trimmed = path.replace(/\/+$/, "");
  const segments = trimmed.split("/").slice(1);
  if (segments.length === 3 && equalsIgnoreCase(segments[0], "providers")) {
    if (
      equalsIgnoreCase(segments[1], "Microsoft.ResourceGraph") &&
      equalsIgnoreCase(segments[2], "resources")
    ) {
      return { kind: "resourceGraph" };
    }
    return undefined;
  }
  if (!equalsIgnoreCase(segments[0], "subscriptions") || !segments[1]) return undefined;
  const subscriptionId = segments[1];
  if (equalsIgnoreCase(segments[2], "providers")) {
    const provider = segments[3] ?? "";
    const rest = segments.slice(4);
    if (rest.length === 4 && equalsIgnoreCase(rest[0], "locations") && rest[3]) {
      const isKusto =
        equalsIgnoreCase(provider, "Microsoft.Kusto") && equalsIgnoreCase(rest[2], "operationResults");
      const isDocumentDb =
        equalsIgnoreCase(provider, "Microsoft.DocumentDB") && equalsIgnoreCase(rest[2], "operationsStatus");
      if (!isKusto && !isDocumentDb) return undefined;
      return {
        kind: "operationStatus",
        subscriptionId,
        provider: isKusto ? "Microsoft.Kusto" : "Microsoft.DocumentDB",
        operationId: rest[3],
      };
    }
    const resourceKind = rest.length === 1 ? findKind(provider, rest) : undefined;
    if (!resourceKind?.topLevel) return undefined;
    return {
      kind: "collection",
      resourceKind,
      subscriptionId,
      resourceGroup: undefined,
      parentId: undefined,
      scope: `/subscriptions/${subscriptionId}`,
    };
  }
  if (
    !equalsIgnoreCase(segments[2], "resourceGroups") ||
    !segments[3] ||
    !equalsIgnoreCase(segments[4], "providers")
  ) {
    return undefined;
  }
  const resourceGroup = segments[3];
  const provider = segments[5] ?? "";
  const rest = segments.slice(6);
  const base = `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/${provider}`;
  const types = rest.filter((_, index) => index % 2 === 0);
  const resourceKind = findKind(provider, types);
  if (!resourceKind) return undefined;
  if (rest.length % 2 === 0) {
    return { kind: "resource", resourceKind, subscriptionId, resourceGroup, id: `${base}/${rest.join("/")}` };
  }
  if (rest.length === 1) {
    return {
      kind: "collection",
      resourceKind,
      subscriptionId,
      resourceGroup,
      parentId: undefined,
      scope: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`,
    };
  }
  const parentId = `${base}/${rest.slice(0, -1).join("/")}`;
  return { kind: "collection", resourceKind, subscriptionId, resourceGroup, parentId, scope: parentId };
}

function requireScopeExists(
  store: SandboxStore,
  subscriptionId: string,
  resourceGroup: string | undefined,
): void {
  const subscription = store.subscriptions.find((candidate) =>
    equalsIgnoreCase(candidate.id, subscriptionId),
  );
  if (!subscription) {
    throw new ArmRequestError(
      404,
      "SubscriptionNotFound",
      `The subscription '${subscriptionId}' could not be found.`,
    );
  }
  if (
    resourceGroup !== undefined &&
    !subscription.resourceGroups.some((rg) => equalsIgnoreCase(rg, resourceGroup))
  ) {
    throw new ArmRequestError(
      404,
      "ResourceGroupNotFound",
      `Resource group '${resourceGroup}' could not be found.`,
    );
  }
}

function readBody(request: SandboxRequest, style: ArmErrorStyle): unknown {
  try {
    const body = readJson(request);
    if (body === undefined) throw new ArmRequestError(400, "BadRequest", "The request body is empty.", style);
    return body;
  } catch (error) {
    if (error instanceof ArmRequestError) throw error;
    if (error instanceof SandboxHttpError) throw new ArmRequestError(400, error.code, error.message, style);
    throw error;
  }
}

function notServed(request: SandboxRequest): ArmRequestError {
  return new ArmRequestError(
    404,
    "NotFound",
    `The sandbox's Resource Manager does not serve ${request.method} ${request.path}. It serves Kusto clusters, Cosmos DB accounts, Managed Cassandra clusters and data centers, their operation status URLs and Resource Graph.`,
  );
}

function methodNotAllowed(request: SandboxRequest): ArmRequestError {
  return new ArmRequestError(
    405,
    "MethodNotAllowed",
    `The sandbox does not support ${request.method} on '${request.path}'.`,
  );
}

export interface ResourceManagerServiceOptions {
  /** The query engine behind Resource Graph (tests may pass their own). */
  runQuery?: QueryRunner;
}

export function createResourceManagerService(options: ResourceManagerServiceOptions = {}): SandboxService {
  async function dispatch(
    request: SandboxRequest,
    store: SandboxStore,
    rateLimitHeaders: Record<string, string>,
  ): Promise<SandboxResponse> {
    const route = routeArmPath(request.path);
    const caller = authenticateArmCaller(request, store);
    const admission = admitArmRequest(store, request, caller.objectId, {
      resourceGraph: route?.kind === "resourceGraph" && request.method === "POST",
    });
    if (!admission.admitted) return admission.response;
    Object.assign(rateLimitHeaders, admission.headers);
    if (!route) throw notServed(request);
    const readMs = store.latency.armReadMs ?? 0;
    if (readMs > 0 && (request.method === "GET" || route.kind === "resourceGraph")) await sleep(readMs);
    completeDueOperations(store, kindOfResource);
    switch (route.kind) {
      case "resourceGraph": {
        if (request.method !== "POST") throw methodNotAllowed(request);
        requireApiVersion(request.query, resourceGraphApiVersions, "resources");
        const body = readBody(request, "cloudError");
        return json(200, answerResourceGraphQuery(store, caller, body, options.runQuery));
      }
      case "operationStatus":
        return answerOperationStatus(request, store, route);
      case "collection":
        if (request.method !== "GET") throw methodNotAllowed(request);
        return listResources(request, store, caller, route);
      case "resource":
        if (request.method === "GET") return getResource(request, store, caller, route);
        if (request.method === "PATCH" && route.resourceKind.update) {
          return updateResource(request, store, caller, {
            ...route,
            resourceKind: { ...route.resourceKind, update: route.resourceKind.update },
          });
        }
        throw methodNotAllowed(request);
    }
  }

  return {
    name: "resource-manager",
    matches: (host) => host === "management.azure.com",
    async handle(request, store) {
      const rateLimitHeaders: Record<string, string> = {};
      const withRateLimits = (response: SandboxResponse): SandboxResponse => ({
        ...response,
        headers: { ...response.headers, ...rateLimitHeaders },
      });
      try {
        return withRateLimits(await dispatch(request, store, rateLimitHeaders));
      } catch (error) {
        if (error instanceof SandboxHttpError) return withRateLimits(armErrorResponse(error));
        throw error;
      }
    },
  };
}

function answerOperationStatus(
  request: SandboxRequest,
  store: SandboxStore,
  route: Extract<ArmRoute, { kind: "operationStatus" }>,
): SandboxResponse {
  if (request.method !== "GET") throw methodNotAllowed(request);
  const versions = armResourceKinds.find((kind) => kind.provider === route.provider)?.apiVersions ?? [];
  requireApiVersion(request.query, versions, "locations/operationResults");
  requireScopeExists(store, route.subscriptionId, undefined);
  const operation = store.asyncOperations.get(route.operationId);
  const resource = operation ? store.armResource(operation.resourceId) : undefined;
  const owner = resource ? kindOfResource(resource) : undefined;
  if (!operation || owner?.provider !== route.provider) {
    throw new ArmRequestError(
      404,
      "OperationNotFound",
      `The operation '${route.operationId}' was not found. Operation ids come from the Azure-AsyncOperation header of an accepted update.`,
    );
  }
  return json(200, operationStatusBody(route.provider, operation, request.path));
}

function listResources(
  request: SandboxRequest,
  store: SandboxStore,
  caller: ArmCaller,
  route: Extract<ArmRoute, { kind: "collection" }>,
): SandboxResponse {
  const kind = route.resourceKind;
  requireApiVersion(request.query, kind.apiVersions, kind.typeSegments.join("/"));
  requireScopeExists(store, route.subscriptionId, route.resourceGroup);
  if (route.parentId) {
    const parent = store.armResource(route.parentId);
    if (!parent) {
      throw resourceNotFound(route.parentId, route.resourceGroup ?? "");
    }
  }
  const prefix = `${route.scope.toLowerCase()}/`;
  const readAction = `${kind.resourceType}/read`;
  // A list under a parent (a cluster's data centers) looks at that parent's children only.
  const candidates = route.parentId
    ? store.childArmResources(route.parentId)
    : [...store.armResources.values()];
  const value = candidates
    .filter((resource) => kindOfResource(resource) === kind && resource.id.toLowerCase().startsWith(prefix))
    .filter((resource) => callerMay(store, caller, readAction, resource.id))
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((resource) => kind.present(store, resource));
  return json(200, { value });
}

function findResourceOr404(
  store: SandboxStore,
  route: Extract<ArmRoute, { kind: "resource" }>,
): SandboxArmResource {
  const resource = store.armResource(route.id);
  if (resource && resource.type.toLowerCase() === route.resourceKind.resourceType.toLowerCase())
    return resource;
  throw resourceNotFound(route.id, route.resourceGroup);
}

function getResource(
  request: SandboxRequest,
  store: SandboxStore,
  caller: ArmCaller,
  route: Extract<ArmRoute, { kind: "resource" }>,
): SandboxResponse {
  const kind = route.resourceKind;
  requireApiVersion(request.query, kind.apiVersions, kind.typeSegments.join("/"));
  requireScopeExists(store, route.subscriptionId, route.resourceGroup);
  requireArmPermission(store, caller, `${kind.resourceType}/read`, route.id);
  const resource = findResourceOr404(store, route);
  return json(200, kind.present(store, resource));
}

async function updateResource(
  request: SandboxRequest,
  store: SandboxStore,
  caller: ArmCaller,
  route: Extract<ArmRoute, { kind: "resource" }> & {
    resourceKind: ArmResourceKind & { update: ArmUpdateBehaviour };
  },
): Promise<SandboxResponse> {
  const kind = route.resourceKind;
  const update = kind.update;
  if (store.latency.armWriteMs > 0) await sleep(store.latency.armWriteMs);
  const apiVersion = requireApiVersion(request.query, kind.apiVersions, kind.typeSegments.join("/"));
  requireScopeExists(store, route.subscriptionId, route.resourceGroup);
  requireArmPermission(store, caller, update.writeAction, route.id);
  const resource = findResourceOr404(store, route);
  if (update.honoursIfMatch) requireIfMatch(request, resource.body, resource.id, kind.errorStyle);
  const patch = readBody(request, kind.errorStyle);
  if (resource.pendingUpdate) throw update.conflictError(resource.id);
  const target = update.merge(store, resource.body, patch);
  const currentReferences = update.keyReferences(resource.body);
  const targetReferences = update.keyReferences(target);
  const currentPrincipal = update.unwrappingPrincipal(store, resource, resource.body);
  const targetPrincipal = update.unwrappingPrincipal(store, resource, target);
  for (const [pin, reference] of Object.entries(targetReferences)) {
    if (!reference) continue;
    const changed =
      !sameKeyReference(currentReferences[pin], reference) || currentPrincipal !== targetPrincipal;
    if (!changed) continue;
    const problem = checkKeyReference(store, reference, {
      identityObjectId: targetPrincipal,
      now: store.now(),
      ...(update.allowedRsaSizes ? { allowedRsaSizes: update.allowedRsaSizes } : {}),
    });
    if (problem) throw update.keyProblemError(problem, pin, resource.id);
  }
  const failWith = takeOperationFault(store, request);
  const started = startUpdate(store, { ...kind, update }, resource, target, failWith);
  const statusUrl = `https://${request.host}${started.statusPath}?api-version=${apiVersion}`;
  // Like the real RPs, the accepted answer shows the resource as requested, still updating.
  const accepted = {
    ...resource,
    body: withEtagOf(update.withProvisioningPhase(target, "updating"), resource.body),
  };
  return json(update.acceptedStatus, kind.present(store, accepted), { "azure-asyncoperation": statusUrl });
}
