/**
 * Outcome events: what the service did, published to the configured Event Grid custom topic
 * so other systems (alerting, tickets, chat) can react. A publish failure is logged and
 * journaled by the caller and never breaks a rotation.
 */
import type { SendEventGridEventInput } from "@azure/eventgrid";

/** The event types, exactly as subscribers filter on them. */
export type OutcomeEventName = "ConsumerRepointed" | "RepointFailed" | "VersionDisabled" | "RotationBlocked";

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
  reason: string;
  message: string;
}

export interface OutcomeEvent {
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

export interface OutcomePublisher {
  publish(events: OutcomeEvent[]): Promise<void>;
}

export function toEventGridInput(event: OutcomeEvent): SendEventGridEventInput<OutcomeEventData> {
  return {
    eventType: event.name,
    subject: event.subject,
    eventTime: event.at,
    dataVersion: "1.0",
    data: event.data,
  };
}

export class EventGridOutcomePublisher implements OutcomePublisher {
  constructor(private readonly sender: EventGridSender) {}

  async publish(events: OutcomeEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.sender.send(events.map(toEventGridInput));
  }
}

/** Keeps events in memory: unit tests, and runs without a topic. */
export class MemoryOutcomePublisher implements OutcomePublisher {
  readonly published: OutcomeEvent[] = [];

  async publish(events: OutcomeEvent[]): Promise<void> {
    this.published.push(...events);
  }
}
