/**
 * The metrics operators read, on the OpenTelemetry API (exported to Application Insights by
 * `startTelemetry`, telemetry.ts). Every name, unit and attribute is listed in the README:
 *
 *   cmk_rotator.key_versions          gauge      {version}  key, state
 *   cmk_rotator.holds                 gauge      {hold}     key, reason
 *   cmk_rotator.rotation.lag          histogram  s          key
 *   cmk_rotator.disables              counter    {version}  key, reason
 *   cmk_rotator.repoint.failures      counter    {repoint}  key, consumer_kind, reason
 *   cmk_rotator.azure.requests        counter    {request}  api, method, status
 *   cmk_rotator.azure.request.duration histogram ms         api, method, status
 *
 * The gauges report what the newest plan of each key said (a state or reason that went away
 * reports 0); the rotation lag is recorded when this instance sees the last consumer of a key
 * arrive on its target version.
 */
import type { Attributes, Counter, Histogram, Meter, ObservableResult } from "@opentelemetry/api";
import type { AzureRequestInfo } from "../azure/pipelinePolicies.js";
import { keyRefId, type Plan, type Snapshot } from "../model.js";

/** What a version is, for `cmk_rotator.key_versions` (each version has exactly one state). */
export type VersionState = "target" | "enabled" | "held" | "disable-planned" | "blocked" | "disabled";

export interface RotatorMetrics {
  /** After every plan: the versions by state and the holds by reason of its keys, and rotations that completed. */
  planned(snapshot: Snapshot, plan: Plan, now: Date): void;
  versionDisabled(keyId: string, reason: string): void;
  repointFailed(keyId: string, consumerKind: string, reason: string): void;
  azureRequest(info: AzureRequestInfo): void;
}

/** Metrics off (no Application Insights configured, or tests that do not look). */
export const noMetrics: RotatorMetrics = {
  planned: () => undefined,
  versionDisabled: () => undefined,
  repointFailed: () => undefined,
  azureRequest: () => undefined,
};

interface KeyFigures {
  versions: Map<VersionState, number>;
  holds: Map<string, number>;
}

interface RotationSeen {
  target: string;
  complete: boolean;
}

function increment<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Each version's state in a plan: disabled, blocked, the target, planned for disabling, held, or enabled. */
export function versionStates(snapshot: Snapshot, plan: Plan): Map<string, Map<VersionState, number>> {
  const byKey = new Map<string, Map<VersionState, number>>();
  const disables = new Set(
    plan.actions.flatMap((action) =>
      action.type === "disable" ? [`${keyRefId(action.key)}|${action.version.toLowerCase()}`] : [],
    ),
  );
  const blocked = new Set(
    plan.blocks.map((block) => `${keyRefId(block.key)}|${block.version.toLowerCase()}`),
  );
  const held = new Set(plan.holds.map((hold) => `${keyRefId(hold.key)}|${hold.version.toLowerCase()}`));
  for (const keySnapshot of snapshot.keys) {
    const keyId = keyRefId(keySnapshot.key);
    const target = plan.targets[keyId]?.toLowerCase();
    const states = new Map<VersionState, number>();
    for (const version of keySnapshot.versions) {
      const id = `${keyId}|${version.version.toLowerCase()}`;
      const state: VersionState = !version.enabled
        ? "disabled"
        : blocked.has(id)
          ? "blocked"
          : version.version.toLowerCase() === target
            ? "target"
            : disables.has(id)
              ? "disable-planned"
              : held.has(id)
                ? "held"
                : "enabled";
      increment(states, state);
    }
    byKey.set(keyId, states);
  }
  return byKey;
}

/**
 * Whether every consumer of the key uses `target`: a pin names it, or (a follower) the consumer
 * reports it in use; a follower that reports nothing is taken as following. Undefined when the
 * key has no consumer.
 */
export function everyConsumerOn(snapshot: Snapshot, keyId: string, target: string): boolean | undefined {
  let pins = 0;
  for (const consumer of snapshot.consumers) {
    for (const pin of consumer.pins) {
      if (keyRefId(pin.key) !== keyId) continue;
      pins++;
      const uses = consumer.inUse[pin.pin] ?? pin.version;
      if (uses !== null && uses !== undefined && uses.toLowerCase() !== target.toLowerCase()) return false;
    }
  }
  return pins === 0 ? undefined : true;
}

export class OpenTelemetryMetrics implements RotatorMetrics {
  private readonly figures = new Map<string, KeyFigures>();
  private readonly rotations = new Map<string, RotationSeen>();
  private readonly rotationLag: Histogram;
  private readonly disables: Counter;
  private readonly repointFailures: Counter;
  private readonly requests: Counter;
  private readonly requestDuration: Histogram;

  constructor(meter: Meter) {
    meter
      .createObservableGauge("cmk_rotator.key_versions", {
        description:
          "Key versions by state (target, enabled, held, disable-planned, blocked, disabled), per key, as the newest plan saw them.",
        unit: "{version}",
      })
      .addCallback((result) => this.report(result, (figures) => figures.versions, "state"));
    meter
      .createObservableGauge("cmk_rotator.holds", {
        description:
          "Holds by reason code, per key, in the newest plan: why old versions are kept and consumers left alone.",
        unit: "{hold}",
      })
      .addCallback((result) => this.report(result, (figures) => figures.holds, "reason"));
    this.rotationLag = meter.createHistogram("cmk_rotator.rotation.lag", {
      description:
        "Time from a key version's creation until every consumer of the key used it (recorded when the service first sees the last consumer on it).",
      unit: "s",
    });
    this.disables = meter.createCounter("cmk_rotator.disables", {
      description: "Key versions the service disabled.",
      unit: "{version}",
    });
    this.repointFailures = meter.createCounter("cmk_rotator.repoint.failures", {
      description: "Repoints that failed (not the ones left pending).",
      unit: "{repoint}",
    });
    this.requests = meter.createCounter("cmk_rotator.azure.requests", {
      description: "HTTP requests the service made to Azure, every retry counted, by API, method and status.",
      unit: "{request}",
    });
    this.requestDuration = meter.createHistogram("cmk_rotator.azure.request.duration", {
      description: "How long each request to Azure took, by API, method and status.",
      unit: "ms",
    });
  }

  planned(snapshot: Snapshot, plan: Plan, now: Date): void {
    const states = versionStates(snapshot, plan);
    for (const [keyId, versions] of states) {
      const holds = new Map<string, number>();
      for (const hold of plan.holds) if (keyRefId(hold.key) === keyId) increment(holds, hold.reason);
      // A state or reason that went away reports 0 rather than its last count.
      const before = this.figures.get(keyId);
      for (const state of before?.versions.keys() ?? []) if (!versions.has(state)) versions.set(state, 0);
      for (const reason of before?.holds.keys() ?? []) if (!holds.has(reason)) holds.set(reason, 0);
      this.figures.set(keyId, { versions, holds });
    }
    for (const keySnapshot of snapshot.keys) {
      const keyId = keyRefId(keySnapshot.key);
      const target = plan.targets[keyId];
      if (!target) continue;
      const complete = everyConsumerOn(snapshot, keyId, target);
      if (complete === undefined) continue;
      const before = this.rotations.get(keyId);
      this.rotations.set(keyId, { target, complete });
      // Only a completion this instance saw happen: after a restart, an old rotation's
      // "lag" would be the age of its version.
      const witnessed = before !== undefined && (before.target !== target || !before.complete);
      if (!complete || !witnessed) continue;
      const created = keySnapshot.versions.find(
        (version) => version.version.toLowerCase() === target.toLowerCase(),
      )?.created;
      if (!created) continue;
      this.rotationLag.record(Math.max(0, (now.getTime() - created.getTime()) / 1000), { key: keyId });
    }
  }

  versionDisabled(keyId: string, reason: string): void {
    this.disables.add(1, { key: keyId, reason });
  }

  repointFailed(keyId: string, consumerKind: string, reason: string): void {
    this.repointFailures.add(1, { key: keyId, consumer_kind: consumerKind, reason });
  }

  azureRequest(info: AzureRequestInfo): void {
    const attributes: Attributes = { api: info.api, method: info.method, status: info.status };
    this.requests.add(1, attributes);
    this.requestDuration.record(info.durationMs, attributes);
  }

  private report(
    result: ObservableResult,
    pick: (figures: KeyFigures) => Map<string, number>,
    attribute: "state" | "reason",
  ): void {
    for (const [keyId, figures] of this.figures) {
      for (const [value, count] of pick(figures)) result.observe(count, { key: keyId, [attribute]: value });
    }
  }
}
