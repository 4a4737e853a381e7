/**
 * What every consumer adapter shares: parsing the ARM id it is handed, reading fields of an
 * ARM payload with a clear error when one is odd, and turning the start of a PATCH into one
 * of the three outcomes.
 */
import { AzureCallError, describeError, ValidationError } from "../../errors.js";
import {
  type ConsumerPin,
  type ConsumerSnapshot,
  isProvisioningBusy,
  type PinName,
  type StepOutcome,
} from "../../model.js";
import { actionableHint, describeAzureFailure, failureText, pendingFromFailure } from "../azureFailure.js";
import { type ParsedKeyId, parseKeyId, sameKey } from "../keyRef.js";
import type { KeyMove, RepointGuard } from "./consumerAdapter.js";

export interface ArmResourceId {
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  /** Names after the provider type, e.g. ["cluster1"] or ["cassandra-1", "dc-east"]. */
  names: string[];
}

const SEGMENT = "[A-Za-z0-9._()-]{1,90}";

/**
 * Parses `/subscriptions/{s}/resourceGroups/{rg}/providers/{provider}/{type}/{name}[/{childType}/{child}]`
 * for the given provider/type path (compared case-insensitively, as ARM does).
 */
export function parseArmId(id: unknown, typePath: readonly string[], what: string): ArmResourceId {
  if (typeof id !== "string")
    throw new ValidationError(what, `${what} id must be a string, got ${typeof id}`);
  const [provider, ...types] = typePath;
  let pattern = `^/subscriptions/([0-9a-fA-F-]{36})/resourceGroups/(${SEGMENT})/providers/${provider}`;
  for (const type of types) pattern += `/${type}/(${SEGMENT})`;
  const match = new RegExp(`${pattern}$`, "i").exec(id);
  if (!match) {
    throw new ValidationError(
      what,
      `${what} id ${JSON.stringify(id)} is not a ${typePath.join("/")} resource id (/subscriptions/<guid>/resourceGroups/<rg>/providers/${typePath.join("/<name>/")}/<name>)`,
    );
  }
  const [, subscriptionId = "", resourceGroup = "", ...names] = match;
  return { id, subscriptionId: subscriptionId.toLowerCase(), resourceGroup, names };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The principal (object) id of the identity a resource unwraps with, as audit records name
 * their caller. `unwrappingIdentity` is a user-assigned identity's ARM id (looked up,
 * case-insensitively, in the resource's `identity.userAssignedIdentities`) or, when absent,
 * the system-assigned identity (`identity.principalId`) is meant.
 */
export function principalIdOfIdentity(
  identityBlock: unknown,
  unwrappingIdentity: string | undefined,
): string | undefined {
  if (!isRecord(identityBlock)) return undefined;
  if (unwrappingIdentity?.startsWith("/")) {
    const assigned = isRecord(identityBlock.userAssignedIdentities)
      ? identityBlock.userAssignedIdentities
      : {};
    const wanted = unwrappingIdentity.toLowerCase();
    const entry = Object.entries(assigned).find(([id]) => id.toLowerCase() === wanted)?.[1];
    const principalId = isRecord(entry) ? entry.principalId : undefined;
    return typeof principalId === "string" && principalId ? principalId.toLowerCase() : undefined;
  }
  const principalId = identityBlock.principalId;
  return typeof principalId === "string" && principalId ? principalId.toLowerCase() : undefined;
}

/**
 * Every principal id an ARM `identity` block carries: the system-assigned `principalId` and each
 * `userAssignedIdentities.*.principalId`, lower case. Audit records name callers by these.
 */
export function principalIdsOf(identityBlock: unknown): string[] {
  if (!isRecord(identityBlock)) return [];
  const ids: string[] = [];
  const add = (value: unknown) => {
    if (typeof value === "string" && value.trim() !== "") ids.push(value.trim().toLowerCase());
  };
  add(identityBlock.principalId);
  if (isRecord(identityBlock.userAssignedIdentities)) {
    for (const entry of Object.values(identityBlock.userAssignedIdentities)) {
      if (isRecord(entry)) add(entry.principalId);
    }
  }
  return [...new Set(ids)];
}

/** An optional boolean field; anything else than a boolean or absence is an odd payload. */
export function optionalBoolean(
  record: Record<string, unknown>,
  field: string,
  subject: string,
): boolean | undefined {
  const value = record[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") {
    throw new ValidationError(
      subject,
      `${subject}: field "${field}" should be true or false, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** An optional string field; anything else than a string or absence is an odd payload. */
export function optionalString(
  record: Record<string, unknown>,
  field: string,
  subject: string,
): string | undefined {
  const value = record[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") {
    throw new ValidationError(
      subject,
      `${subject}: field "${field}" should be a string, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** A key URI field that may be absent (no customer-managed key) or a key id with or without version. */
export function optionalKeyUri(
  record: Record<string, unknown>,
  field: string,
  subject: string,
): ParsedKeyId | undefined {
  const value = optionalString(record, field, subject);
  if (value === undefined || value.trim() === "") return undefined;
  return parseKeyId(value, `${subject} ${field}`);
}

/** Wraps a failed ARM GET in an AzureCallError that names the consumer and what to do. */
export function readError(id: string, operation: string, error: unknown): AzureCallError {
  const failure = describeAzureFailure(error);
  let hint = "";
  if (failure.status === 403) hint = "; the service identity needs Reader on the consumer";
  if (failure.status === 404) hint = "; the consumer no longer exists (Resource Graph may lag)";
  return new AzureCallError(
    {
      resourceId: id,
      operation,
      ...(failure.status !== undefined ? { status: failure.status } : {}),
      ...(failure.code ? { azureCode: failure.code } : {}),
    },
    `${operation} ${id} failed: ${failureText(failure)}${hint}`,
    { cause: error },
  );
}

/**
 * Begins a repoint: reads the consumer again (`read`), checks that the pin still names a
 * version the write may replace, then sends the PATCH through `start(fresh)` and maps the
 * answer. Started → done (verified at the next observation); the consumer moved meanwhile,
 * busy, 409 or 412 (its etag changed since the read) → pending; 429/5xx after the SDK's own
 * retries → pending with Retry-After; any other 4xx → failed with the RP's code.
 */
export async function beginRepointWith(
  consumer: ConsumerSnapshot,
  pin: PinName,
  toVersion: string,
  guard: RepointGuard,
  read: () => Promise<ConsumerSnapshot>,
  start: (fresh: ConsumerSnapshot, freshPin: ConsumerPin) => Promise<void>,
): Promise<StepOutcome> {
  const subject = `repoint of ${consumer.kind} ${consumer.id} (${pin}) to version ${toVersion}`;
  const planned = consumer.pins.find((candidate) => candidate.pin === pin);
  if (!planned) {
    return { status: "failed", reason: "unknown-pin", detail: `${subject}: the consumer has no ${pin} key` };
  }
  let fresh: ConsumerSnapshot;
  try {
    fresh = await read();
  } catch (error) {
    return {
      status: "pending",
      detail: `${subject} waits: re-reading the consumer right before the write failed (${describeError(error)}); the next run retries`,
    };
  }
  const freshPin = fresh.pins.find((candidate) => candidate.pin === pin);
  if (!freshPin || !sameKey(freshPin.key, planned.key)) {
    return {
      status: "pending",
      detail: `${subject} not sent: the consumer no longer uses ${planned.key.vaultName}/${planned.key.keyName} on ${pin}; the next observation plans again`,
    };
  }
  if (freshPin.version === null) {
    return {
      status: "pending",
      detail: `${subject} not sent: the consumer now follows the newest version by itself, and such a consumer is never patched`,
    };
  }
  if (freshPin.version.toLowerCase() === toVersion.toLowerCase()) {
    return {
      status: "pending",
      detail: `${subject} not sent: the consumer is on the target already (moved since the observation); the next observation verifies it`,
    };
  }
  if (!guard.replaceable.has(freshPin.version.toLowerCase())) {
    return {
      status: "pending",
      detail: `${subject} not sent: the consumer now pins version ${freshPin.version}, which is not known to be older than the target, and a consumer is never moved to an older version; the next observation plans again`,
    };
  }
  if (isProvisioningBusy(fresh.provisioningState)) {
    return {
      status: "pending",
      detail: `${subject} waits: the resource is ${fresh.provisioningState}; the next run retries`,
    };
  }
  return sendWrite(subject, () => start(fresh, freshPin));
}

/** Sends a write and maps the answer: started → done; 409/412 → pending; 429/5xx → pending; any other → failed. */
async function sendWrite(subject: string, start: () => Promise<void>): Promise<StepOutcome> {
  try {
    await start();
    return { status: "done", detail: `${subject} started; verified at the next observation` };
  } catch (error) {
    const failure = describeAzureFailure(error, Date.now());
    if (failure.status === 409) {
      return {
        status: "pending",
        detail: `${subject} conflicts with an operation in progress (${failureText(failure)})`,
      };
    }
    if (failure.status === 412) {
      return {
        status: "pending",
        detail: `${subject} was refused because the consumer changed after it was read (${failureText(failure)}); the next run reads it again`,
      };
    }
    if (failure.status === 429 || (failure.status !== undefined && failure.status >= 500)) {
      return pendingFromFailure(subject, failure);
    }
    return {
      status: "failed",
      reason: failure.code ?? "azure-error",
      detail: `${subject} failed: ${failureText(failure)}${actionableHint(failure.code)}`,
    };
  }
}

/**
 * A consumer's facts from its Resource Graph row, marked as such; undefined when the row does
 * not read cleanly (observation then reads the consumer through Resource Manager, where an
 * odd payload is reported against the consumer's key as before).
 */
export function rowFacts(build: () => ConsumerSnapshot): ConsumerSnapshot | undefined {
  try {
    return { ...build(), readFrom: "resource-graph" };
  } catch {
    return undefined;
  }
}

/**
 * Begins a move to another key: reads the consumer again, checks that the pin still names the
 * source key in the planned mode and that the resource is idle, then sends the PATCH through
 * `start(fresh)`. A pin already on the destination (or anywhere but the source) is left alone,
 * so a consumer is never moved back.
 */
export async function beginMigrateWith(
  consumer: ConsumerSnapshot,
  pin: PinName,
  move: KeyMove,
  read: () => Promise<ConsumerSnapshot>,
  start: (fresh: ConsumerSnapshot) => Promise<void>,
): Promise<StepOutcome> {
  const target = `${move.to.vaultName}/${move.to.keyName}${move.toVersion ? ` version ${move.toVersion}` : " (versionless)"}`;
  const subject = `move of ${consumer.kind} ${consumer.id} (${pin}) to ${target}`;
  let fresh: ConsumerSnapshot;
  try {
    fresh = await read();
  } catch (error) {
    return {
      status: "pending",
      detail: `${subject} waits: re-reading the consumer right before the write failed (${describeError(error)}); the next run retries`,
    };
  }
  const freshPin = fresh.pins.find((candidate) => candidate.pin === pin);
  if (freshPin && sameKey(freshPin.key, move.to)) {
    return {
      status: "pending",
      detail: `${subject} not sent: the consumer is on the destination already; the next observation verifies it`,
    };
  }
  if (!freshPin || !sameKey(freshPin.key, move.from)) {
    return {
      status: "pending",
      detail: `${subject} not sent: the consumer no longer uses ${move.from.vaultName}/${move.from.keyName} on ${pin}; the next observation plans again`,
    };
  }
  if ((freshPin.version === null) !== (move.toVersion === null)) {
    return {
      status: "pending",
      detail: `${subject} not sent: the consumer ${freshPin.version === null ? "follows the newest version now" : "pins a version now"}, and a move keeps the consumer's mode; the next observation plans again`,
    };
  }
  if (isProvisioningBusy(fresh.provisioningState)) {
    return {
      status: "pending",
      detail: `${subject} waits: the resource is ${fresh.provisioningState}; the next run retries`,
    };
  }
  return sendWrite(subject, () => start(fresh));
}

/** A region as Resource Manager compares them: "West Europe" and "westeurope" are one. */
export function normaliseRegion(location: string): string {
  return location.replace(/\s+/g, "").toLowerCase();
}
