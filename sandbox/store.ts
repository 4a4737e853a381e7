/**
 * All state of one running sandbox, in memory. Services read and write it; background
 * loops (consumer usage, Event Grid delivery, long-running operations) tick over it.
 * Map keys for ARM ids are lower case (ARM ids are case-insensitive).
 */
import { EventEmitter } from "node:events";
import { defaultArmThrottling } from "./arm/throttling.js";
import type { SandboxExchange } from "./http.js";
import type {
  ArmThrottlingSettings,
  FaultRule,
  IngestionSettings,
  LatencySettings,
  SandboxArmResource,
  SandboxAsyncOperation,
  SandboxAuditRecord,
  SandboxClock,
  SandboxConsumer,
  SandboxDelivery,
  SandboxEventSubscription,
  SandboxIdentity,
  SandboxPublishedEvent,
  SandboxRoleAssignment,
  SandboxRoleDefinition,
  SandboxVault,
  SandboxWorkspace,
} from "./model.js";

export interface SandboxCustomTopic {
  name: string;
  /** e.g. "rotator-events.westeurope-1.eventgrid.azure.net" */
  host: string;
  /** Access key accepted in the `aeg-sas-key` header (a bearer token is accepted too). */
  accessKey: string;
  /** ARM id of the topic: the RBAC scope for bearer tokens and the `topic` of its events. */
  resourceId?: string;
}

export interface SandboxSubscription {
  id: string;
  resourceGroups: string[];
  /** False when the service is not told about it (left out of ROTATOR_SUBSCRIPTIONS). Default true. */
  watched?: boolean;
}

/** Events the store emits so that services can react to each other without importing each other. */
export interface SandboxStoreEvents {
  keyVersionCreated: [{ vault: SandboxVault; keyName: string; version: string }];
  armResourceChanged: [{ id: string }];
}

export class SandboxStore {
  readonly events = new EventEmitter<SandboxStoreEvents>();
  tenantId = "72f988bf-86f1-41af-91ab-2d7cd011db47";
  readonly identities = new Map<string, SandboxIdentity>();
  readonly roleDefinitions = new Map<string, SandboxRoleDefinition>();
  readonly roleAssignments: SandboxRoleAssignment[] = [];
  readonly subscriptions: SandboxSubscription[] = [];
  readonly vaults = new Map<string, SandboxVault>();
  readonly workspaces = new Map<string, SandboxWorkspace>();
  audit: SandboxAuditRecord[] = [];
  /** Audit records older than this are dropped (the workspace retention the sandbox keeps). */
  auditRetentionMs = 8 * 24 * 3600 * 1000;
  /**
   * The memory bound of the audit log (see audit.ts): above this many records, records older
   * than `auditExactWindowMs` are compacted to the first and last of each distinct call per
   * hour; if that is not enough, the oldest are dropped and queries reaching back past them
   * answer with a PartialError.
   */
  auditMaxRecords = 200_000;
  /** Records younger than this are never compacted. */
  auditExactWindowMs = 3600 * 1000;
  /** Time of the newest record dropped to keep the bound (queries from before it are partial). */
  auditDroppedThrough: number | undefined;
  readonly armResources = new Map<string, SandboxArmResource>();
  readonly asyncOperations = new Map<string, SandboxAsyncOperation>();
  readonly consumers = new Map<string, SandboxConsumer>();
  readonly eventSubscriptions: SandboxEventSubscription[] = [];
  readonly deliveries: SandboxDelivery[] = [];
  readonly customTopics: SandboxCustomTopic[] = [];
  readonly publishedEvents: SandboxPublishedEvent[] = [];
  faults: FaultRule[] = [];
  ingestion: IngestionSettings = { delaySeconds: 0, paused: false, partialError: false };
  latency: LatencySettings = { armWriteMs: 0, lroDurationMs: 2000 };
  /** Resource Manager's request budgets; replace the object to change them (the buckets start full again). */
  throttling: ArmThrottlingSettings = defaultArmThrottling();
  /** When set, the server appends every exchange here (conformance tests). */
  recording: SandboxExchange[] | undefined;

  constructor(
    readonly clock: SandboxClock = { now: () => Date.now() },
    /** Where the sandbox's random draws come from (jitter, ingestion latency); tests may seed their own. */
    public random: () => number = Math.random,
  ) {}

  now(): number {
    return this.clock.now();
  }

  identityByName(name: string): SandboxIdentity | undefined {
    for (const identity of this.identities.values()) if (identity.name === name) return identity;
    return undefined;
  }

  armResource(id: string): SandboxArmResource | undefined {
    return this.armResources.get(id.toLowerCase());
  }

  putArmResource(resource: SandboxArmResource): void {
    const id = resource.id.toLowerCase();
    this.armResources.set(id, resource);
    const parent = parentResourceId(id);
    if (parent === undefined) return;
    let children = this.childResourceIds.get(parent);
    if (!children) {
      children = new Set();
      this.childResourceIds.set(parent, children);
    }
    children.add(id);
  }

  /** The child resources of `parentId` (a Cassandra cluster's data centers), without a scan of every resource. */
  childArmResources(parentId: string): SandboxArmResource[] {
    const ids = this.childResourceIds.get(parentId.toLowerCase()) ?? new Set<string>();
    return [...ids].flatMap((id) => this.armResources.get(id) ?? []);
  }

  /** Child resource ids by their parent's id (lower case), kept by putArmResource. */
  private readonly childResourceIds = new Map<string, Set<string>>();
}

/** The parent of a child resource id (`…/providers/ns/type/name/childType/childName`), else undefined. */
function parentResourceId(id: string): string | undefined {
  const at = id.lastIndexOf("/providers/");
  if (at < 0) return undefined;
  // After /providers/: namespace, type, name, then pairs of child type and name.
  const segments = id.slice(at + "/providers/".length).split("/");
  if (segments.length < 5 || segments.length % 2 === 0) return undefined;
  return id.split("/").slice(0, -2).join("/");
}
