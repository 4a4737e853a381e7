/**
 * Key Vault system events as the vault's system topic publishes them, and their two wire
 * forms (Event Grid schema, CloudEvents 1.0). The data follows
 * azure-specs/.../eventgrid/data-plane/Microsoft.KeyVault/stable/2018-01-01/KeyVault.json:
 * PascalCase `Id`, `VaultName`, `ObjectType`, `ObjectName`, `Version`, and `NBF`/`EXP` as
 * numbers (epoch seconds), omitted when the version has none.
 */
import { randomUUID } from "node:crypto";
import type { SandboxKeyVersion, SandboxVault } from "../model.js";

export const KEY_VAULT_EVENT_TYPES = {
  newVersionCreated: "Microsoft.KeyVault.KeyNewVersionCreated",
  nearExpiry: "Microsoft.KeyVault.KeyNearExpiry",
  expired: "Microsoft.KeyVault.KeyExpired",
} as const;

export type KeyVaultEventType = (typeof KEY_VAULT_EVENT_TYPES)[keyof typeof KEY_VAULT_EVENT_TYPES];

export const SUBSCRIPTION_VALIDATION_EVENT_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent";

/** Key Vault sends KeyNearExpiry this long before a key's current version expires. */
export const NEAR_EXPIRY_LEAD_MS = 30 * 24 * 3600 * 1000;

export interface KeyVaultEventData {
  Id: string;
  VaultName: string;
  ObjectType: "Key";
  ObjectName: string;
  Version: string;
  NBF?: number;
  EXP?: number;
}

/** One event of a topic, independent of the schema it is delivered in. */
export interface TopicEvent {
  id: string;
  /** ARM id of the topic (the vault for a system topic). */
  topic: string;
  subject: string;
  eventType: string;
  /** Epoch ms. */
  eventTime: number;
  data: Record<string, unknown>;
  dataVersion: string;
}

export interface EventGridSchemaEvent {
  id: string;
  topic: string;
  subject: string;
  eventType: string;
  eventTime: string;
  data: Record<string, unknown>;
  dataVersion: string;
  metadataVersion: "1";
}

export interface CloudEventSchemaEvent {
  id: string;
  source: string;
  specversion: "1.0";
  type: string;
  subject: string;
  time: string;
  data: Record<string, unknown>;
}

export function keyVaultEvent(
  vault: SandboxVault,
  keyName: string,
  version: SandboxKeyVersion,
  eventType: KeyVaultEventType,
  now: number,
): TopicEvent {
  const data: KeyVaultEventData = {
    Id: `${vault.uri}keys/${keyName}/${version.version}`,
    VaultName: vault.name,
    ObjectType: "Key",
    ObjectName: keyName,
    Version: version.version,
  };
  if (version.nbf !== undefined) data.NBF = Math.floor(version.nbf / 1000);
  if (version.exp !== undefined) data.EXP = Math.floor(version.exp / 1000);
  return {
    id: randomUUID(),
    topic: vault.resourceId,
    subject: keyName,
    eventType,
    eventTime: now,
    data: { ...data },
    dataVersion: "1",
  };
}

export function toEventGridSchema(event: TopicEvent): EventGridSchemaEvent {
  return {
    id: event.id,
    topic: event.topic,
    subject: event.subject,
    eventType: event.eventType,
    eventTime: new Date(event.eventTime).toISOString(),
    data: event.data,
    dataVersion: event.dataVersion,
    metadataVersion: "1",
  };
}

export function toCloudEvent(event: TopicEvent): CloudEventSchemaEvent {
  return {
    id: event.id,
    source: event.topic,
    specversion: "1.0",
    type: event.eventType,
    subject: event.subject,
    time: new Date(event.eventTime).toISOString(),
    data: event.data,
  };
}

/**
 * The Event Grid schema handshake event. `validationUrl` has the real shape but the sandbox
 * does not serve it: only the synchronous handshake (answering `validationResponse`) works.
 */
export function subscriptionValidationEvent(
  topic: string,
  subscriptionName: string,
  validationCode: string,
  now: number,
): EventGridSchemaEvent {
  const time = new Date(now).toISOString();
  return {
    id: randomUUID(),
    topic,
    subject: "",
    eventType: SUBSCRIPTION_VALIDATION_EVENT_TYPE,
    eventTime: time,
    data: {
      validationCode,
      validationUrl: `https://rp-sandbox.eventgrid.azure.net:553/eventsubscriptions/${encodeURIComponent(subscriptionName)}/validate?id=${validationCode}&t=${encodeURIComponent(time)}&apiVersion=2018-01-01`,
    },
    dataVersion: "2",
    metadataVersion: "1",
  };
}
