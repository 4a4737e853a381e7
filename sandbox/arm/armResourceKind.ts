/**
 * One table entry per Resource Manager resource type the sandbox serves. The generic
 * handlers (GET, list, PATCH as a long-running operation) own the protocol; a kind only says
 * how its bodies look, how a PATCH merges, where its keys are and how its provider words
 * errors. Adding a consumer kind is one more file like `kustoClusters.ts`.
 */
import type { SandboxArmResource } from "../model.js";
import type { SandboxStore } from "../store.js";
import type { ArmErrorStyle, ArmRequestError } from "./armErrors.js";
import type { KeyProblem, KeyReference } from "./keyReference.js";
import type { JsonObject } from "./patchBody.js";

export type ArmProvider = "Microsoft.Kusto" | "Microsoft.DocumentDB";

export type ProvisioningPhase = "updating" | "succeeded" | "failed";

export interface ArmResourceKind {
  /** For messages, e.g. "Kusto cluster". */
  readonly label: string;
  readonly provider: ArmProvider;
  /** Type as RBAC actions and Resource Graph name it, e.g. "Microsoft.Kusto/clusters". */
  readonly resourceType: string;
  /** Path segments after the provider: ["clusters"], or ["cassandraClusters", "dataCenters"] for a child. */
  readonly typeSegments: readonly string[];
  readonly apiVersions: readonly string[];
  readonly errorStyle: ArmErrorStyle;
  /** Whether ARM lists it by subscription and resource group (false for child resources). */
  readonly topLevel: boolean;
  /** The body GET answers with now; read-time fields are filled here. */
  present(store: SandboxStore, resource: SandboxArmResource): JsonObject;
  readonly update?: ArmUpdateBehaviour;
}

export interface ArmUpdateBehaviour {
  readonly writeAction: string;
  /** Status of an accepted PATCH, as the spec declares it. */
  readonly acceptedStatus: 200 | 201 | 202;
  /** Validate a PATCH body and merge it into the current body; throws ArmRequestError. */
  merge(store: SandboxStore, current: JsonObject, patch: unknown): JsonObject;
  /** Key references by pin ("key", or "managedDisk"/"backupStorage"); undefined: no CMK on that pin. */
  keyReferences(body: JsonObject): Record<string, KeyReference | undefined>;
  /** Object id of the identity that unwraps the resource's keys, per the (target) body. */
  unwrappingPrincipal(
    store: SandboxStore,
    resource: SandboxArmResource,
    body: JsonObject,
  ): string | undefined;
  /** Whether the provider's update honours `If-Match` (its spec takes the header): 412 when stale. */
  readonly honoursIfMatch?: boolean;
  /** RSA sizes the provider accepts; undefined: any. */
  readonly allowedRsaSizes?: readonly number[];
  keyProblemError(problem: KeyProblem, pin: string, resourceId: string): ArmRequestError;
  conflictError(resourceId: string): ArmRequestError;
  withProvisioningPhase(body: JsonObject, phase: ProvisioningPhase): JsonObject;
  /** Region in the operation status URL. */
  operationLocation(store: SandboxStore, resource: SandboxArmResource): string;
}
