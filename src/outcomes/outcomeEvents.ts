/**
 * Outcome events: what the service did, published to the configured Event Grid custom topic
 * so other systems (alerting, tickets, chat) can react. `OutcomeDelivery` (outcomeDelivery.ts)
 * sends them in batches under Event Grid's limits, retries, and keeps what it could not deliver
 * for a later run; a delivery problem never breaks a rotation.
 */
import type { SendEventGridEventInput } from "@azure/eventgrid";

/** The event types, exactly as subscribers filter on them. */
export type OutcomeEventName =
  | "ConsumerRepointed"
  | "RepointFailed"
  | "VersionDisabled"
  | "RotationBlocked"
  /** A version the service (or an operator) enabled again because someone still needs it. */
  | "VersionRestored"
  /** A compromised version someone still needs: never enabled again automatically; an operator decides. */
  | "RestoreNeeded"
  /** A consumer's move from a migration's source key to its destination key began / failed. */
  | "ConsumerMigrated"
  | "MigrationFailed";

export interface OutcomeEventData {
  /** "<vaultName>/<keyName>". */
  key: string;
  /** Versionless key id, "https://kv1.vault.azure.net/keys/k". */
  keyId: string;
  /** The version the event is about: the new target (repoint) or the disabled/blocked version. */
  version: string;
  /** The version a consumer moved from (repoint). */
  fromVersion?: string;
  consumer?: string;
  consumerKind?: string;
  pin?: string;
  /** VersionRestored, RestoreNeeded: who failed (callers and consumers, named where known). */
  neededBy?: string[];
  /** VersionRestored, RestoreNeeded: "failed-use", "consumer-key-error" or "operator". */
  triggers?: string[];
  /** The key a consumer moves to (migration events), "<vaultName>/<keyName>". */
  toKey?: string;
  /** Its versionless key id. */
  toKeyId?: string;
  reason: string;
  message: string;
}

export interface OutcomeEvent {
  /** The Event Grid event id; given at the first send when absent, and kept for every resend. */
  id?: string;
  name: OutcomeEventName;
  /** Consumer id for repoint events, the versioned key id otherwise. */
  subject: string;
  at: Date;
  data: OutcomeEventData;
}

/** The one call the service needs from `EventGridPublisherClient<"EventGrid">`. */
export interface EventGridSender {
  send(events: SendEventGridEventInput<unknown>[]): Promise<void>;
}

/** What became of the events of one publish. */
export interface PublishResult {
  published: number;
  delivered: number;
  /** Not delivered, and kept for a later run to republish. */
  kept: number;
  /** Not delivered and not kept (logged with their ids). */
  lost: number;
  /** Why sends failed, one line per distinct reason. */
  failures: string[];
}

export interface OutcomePublisher {
  publish(events: OutcomeEvent[]): Promise<PublishResult>;
}

/** Longer messages are cut: an event stays far below Event Grid's per-event limit. */
export const EVENT_MESSAGE_LIMIT = 4096;

export function toEventGridInput(event: OutcomeEvent): SendEventGridEventInput<OutcomeEventData> {
  const message =
    event.data.message.length > EVENT_MESSAGE_LIMIT
      ? `${event.data.message.slice(0, EVENT_MESSAGE_LIMIT - 3)}...`
      : event.data.message;
  return {
    ...(event.id ? { id: event.id } : {}),
    eventType: event.name,
    subject: event.subject,
    eventTime: event.at,
    dataVersion: "1.0",
    data: { ...event.data, message },
  };
}

/** Keeps events in memory: unit tests, and runs without a topic. */
export class MemoryOutcomePublisher implements OutcomePublisher {
  readonly published: OutcomeEvent[] = [];

  async publish(events: OutcomeEvent[]): Promise<PublishResult> {
    this.published.push(...events);
    return { published: events.length, delivered: events.length, kept: 0, lost: 0, failures: [] };
  }
}
