import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import type { Hold, Plan, Snapshot } from "../../../src/model.js";
import { silentLog } from "../../../src/rotation/log.js";
import { OpenTelemetryMetrics } from "../../../src/telemetry/rotatorMetrics.js";
import { startTelemetry, validConnectionString } from "../../../src/telemetry/telemetry.js";
import {
  aConsumer,
  aKeyRef,
  aKeyWithThreeVersions,
  aPin,
  aSnapshot,
  HOUR,
  NOW,
  versionId,
} from "../../builders/index.js";

function meter() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const metrics = new OpenTelemetryMetrics(provider.getMeter("cmk-rotator"));
  /** Every data point exported, by metric name: [attributes, value]. */
  async function collect(): Promise<Map<string, { attributes: Record<string, unknown>; value: unknown }[]>> {
    exporter.reset();
    await reader.forceFlush();
    const points = new Map<string, { attributes: Record<string, unknown>; value: unknown }[]>();
    for (const resource of exporter.getMetrics()) {
      for (const scope of resource.scopeMetrics) {
        for (const metric of scope.metrics) {
          const list = points.get(metric.descriptor.name) ?? [];
          for (const point of metric.dataPoints)
            list.push({ attributes: point.attributes, value: point.value });
          points.set(metric.descriptor.name, list);
        }
      }
    }
    return points;
  }
  return { metrics, collect, provider };
}

const key = aKeyRef();
const keySnapshot = aKeyWithThreeVersions({ key });

function planWith(holds: Hold[] = [], target = versionId(2)): Plan {
  return {
    now: NOW,
    actions: [
      {
        type: "disable",
        key,
        version: versionId(0),
        reason: "quiet-period-elapsed-unused",
        message: "unused",
        evidence: {
          supersededAt: NOW,
          quietPeriodMs: HOUR,
          windowFrom: NOW,
          windowTo: NOW,
          canarySeenAt: NOW,
          workspaceId: "w",
        },
      },
    ],
    holds,
    blocks: [],
    targets: { "kv1/cmk": target },
  };
}

function snapshotWithPin(version: string): Snapshot {
  return aSnapshot({ keys: [keySnapshot], consumers: [aConsumer({ pins: [aPin(key, version)] })] });
}

describe("the operators' metrics (in-memory exporter)", () => {
  it("reports the versions of each key by state and its holds by reason, as the newest plan saw them", async () => {
    const { metrics, collect } = meter();
    const hold: Hold = {
      type: "hold",
      key,
      version: versionId(1),
      reason: "pinned-by-consumer",
      message: "pinned",
    };
    metrics.planned(snapshotWithPin(versionId(1)), planWith([hold]), NOW);
    const points = await collect();
    expect(points.get("cmk_rotator.key_versions")).toEqual(
      expect.arrayContaining([
        { attributes: { key: "kv1/cmk", state: "disable-planned" }, value: 1 },
        { attributes: { key: "kv1/cmk", state: "held" }, value: 1 },
        { attributes: { key: "kv1/cmk", state: "target" }, value: 1 },
      ]),
    );
    expect(points.get("cmk_rotator.key_versions")).toHaveLength(3);
    expect(points.get("cmk_rotator.holds")).toEqual([
      { attributes: { key: "kv1/cmk", reason: "pinned-by-consumer" }, value: 1 },
    ]);

    metrics.planned(snapshotWithPin(versionId(2)), planWith([]), NOW);
    expect((await collect()).get("cmk_rotator.holds")).toEqual([
      { attributes: { key: "kv1/cmk", reason: "pinned-by-consumer" }, value: 0 },
    ]);
  });

  it("records the rotation lag once, when it sees the last consumer arrive on the target", async () => {
    const { metrics, collect } = meter();
    const created = keySnapshot.versions[2]?.created as Date;
    metrics.planned(snapshotWithPin(versionId(1)), planWith(), NOW);
    expect((await collect()).get("cmk_rotator.rotation.lag")).toBeUndefined();
    const later = new Date(NOW.getTime() + HOUR);
    metrics.planned(snapshotWithPin(versionId(2)), planWith(), later);
    metrics.planned(snapshotWithPin(versionId(2)), planWith(), new Date(later.getTime() + HOUR));
    const lag = (await collect()).get("cmk_rotator.rotation.lag");
    expect(lag).toHaveLength(1);
    expect(lag?.[0]?.attributes).toEqual({ key: "kv1/cmk" });
    expect(lag?.[0]?.value).toMatchObject({ count: 1, sum: (later.getTime() - created.getTime()) / 1000 });
  });

  it("records no lag for a rotation it did not see happen (after a restart, everyone already on the target)", async () => {
    const { metrics, collect } = meter();
    metrics.planned(snapshotWithPin(versionId(2)), planWith(), NOW);
    metrics.planned(snapshotWithPin(versionId(2)), planWith(), NOW);
    expect((await collect()).get("cmk_rotator.rotation.lag")).toBeUndefined();
  });

  it("counts disables, failed repoints, and Azure requests by API, method and status", async () => {
    const { metrics, collect } = meter();
    metrics.versionDisabled("kv1/cmk", "quiet-period-elapsed-unused");
    metrics.repointFailed("kv1/cmk", "kusto", "KeyVaultNotFound");
    metrics.repointFailed("kv1/cmk", "kusto", "KeyVaultNotFound");
    metrics.azureRequest({ api: "resource-manager", method: "PATCH", status: "202", durationMs: 40 });
    metrics.azureRequest({ api: "resource-manager", method: "PATCH", status: "429", durationMs: 5 });
    metrics.azureRequest({ api: "resource-manager", method: "PATCH", status: "202", durationMs: 60 });
    const points = await collect();
    expect(points.get("cmk_rotator.disables")).toEqual([
      { attributes: { key: "kv1/cmk", reason: "quiet-period-elapsed-unused" }, value: 1 },
    ]);
    expect(points.get("cmk_rotator.repoint.failures")).toEqual([
      { attributes: { key: "kv1/cmk", consumer_kind: "kusto", reason: "KeyVaultNotFound" }, value: 2 },
    ]);
    expect(points.get("cmk_rotator.azure.requests")).toEqual([
      { attributes: { api: "resource-manager", method: "PATCH", status: "202" }, value: 2 },
      { attributes: { api: "resource-manager", method: "PATCH", status: "429" }, value: 1 },
    ]);
    const durations = points.get("cmk_rotator.azure.request.duration");
    expect(durations?.[0]?.value).toMatchObject({ count: 2, sum: 100 });
  });
});

describe("startTelemetry", () => {
  it("starts no telemetry without a connection string, or with one it cannot use", async () => {
    const credential = { getToken: async () => null };
    const warnings: string[] = [];
    const log = { ...silentLog, warn: (message: string) => void warnings.push(message) };
    const off = await startTelemetry({}, credential, log);
    const bad = await startTelemetry(
      { APPLICATIONINSIGHTS_CONNECTION_STRING: "InstrumentationKey=x" },
      credential,
      log,
    );
    expect(off).not.toBeInstanceOf(OpenTelemetryMetrics);
    expect(bad).not.toBeInstanceOf(OpenTelemetryMetrics);
    expect(warnings).toEqual(["telemetry off: the Application Insights connection string is not usable"]);
  });

  it.each([
    [
      "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/",
      true,
    ],
    ["InstrumentationKey=00000000-0000-0000-0000-000000000000", true],
    ["InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://x", false],
    ["IngestionEndpoint=https://x", false],
    ["", false],
  ])("accepts the connection string %j: %s", (value, usable) => {
    expect(validConnectionString(value) !== undefined).toBe(usable);
  });
});
