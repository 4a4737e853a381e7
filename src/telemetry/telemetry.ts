/**
 * Telemetry to Application Insights through `@azure/monitor-opentelemetry`, started on the
 * first invocation (never when the entry modules load: the distro alone loads hundreds of
 * files). The function app's settings say where (`APPLICATIONINSIGHTS_CONNECTION_STRING`, set
 * by infra/main.json) and the exporter signs in with the app's user-assigned identity
 * (`AZURE_CLIENT_ID`, through the credential passed in): the component's local auth is off, so
 * Entra authentication is the only way in ("Monitoring Metrics Publisher" on the component).
 * Without a connection string there are no metrics (local runs, tests, the plan command).
 */
import type { TokenCredential } from "@azure/core-auth";
import { describeError } from "../errors.js";
import type { RotatorLog } from "../rotation/log.js";
import { noMetrics, OpenTelemetryMetrics, type RotatorMetrics } from "./rotatorMetrics.js";

export const CONNECTION_STRING_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING";
export const METER_NAME = "cmk-rotator";

/** An Application Insights connection string: `InstrumentationKey=<guid>;IngestionEndpoint=https://…;…`. */
export function validConnectionString(value: string | undefined): string | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  const parts = new Map(
    text
      .split(";")
      .map((part) => part.split("="))
      .filter((pair) => pair.length >= 2)
      .map(([name, ...rest]) => [name?.trim().toLowerCase() ?? "", rest.join("=").trim()]),
  );
  const key = parts.get("instrumentationkey");
  if (!key || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(key)) return undefined;
  const endpoint = parts.get("ingestionendpoint");
  if (endpoint !== undefined && !/^https:\/\//i.test(endpoint)) return undefined;
  return text;
}

/**
 * Starts the Azure Monitor distro for metrics and returns the service's instruments on its
 * meter; `noMetrics` without (or with an unusable) connection string. Telemetry never stops
 * the service: a failure to start is logged and the service runs without metrics.
 */
export async function startTelemetry(
  env: Record<string, string | undefined>,
  credential: TokenCredential,
  log: RotatorLog,
): Promise<RotatorMetrics> {
  const raw = env[CONNECTION_STRING_SETTING];
  if (!raw?.trim()) return noMetrics;
  const connectionString = validConnectionString(raw);
  if (!connectionString) {
    // The value may hold a key: never echo it.
    log.warn("telemetry off: the Application Insights connection string is not usable", {
      setting: CONNECTION_STRING_SETTING,
      detail: "expected InstrumentationKey=<guid> and an https IngestionEndpoint",
    });
    return noMetrics;
  }
  try {
    const [{ useAzureMonitor }, { metrics }] = await Promise.all([
      import("@azure/monitor-opentelemetry"),
      import("@opentelemetry/api"),
    ]);
    useAzureMonitor({
      azureMonitorExporterOptions: { connectionString, credential },
      // The Functions host already reports requests and logs; the service adds its own metrics.
      enableLiveMetrics: false,
      instrumentationOptions: {
        http: { enabled: false },
        azureSdk: { enabled: false },
        mongoDb: { enabled: false },
        mySql: { enabled: false },
        postgreSql: { enabled: false },
        redis: { enabled: false },
        redis4: { enabled: false },
      },
    });
    return new OpenTelemetryMetrics(metrics.getMeter(METER_NAME));
  } catch (error) {
    log.error("telemetry could not start; running without metrics", { detail: describeError(error) });
    return noMetrics;
  }
}
