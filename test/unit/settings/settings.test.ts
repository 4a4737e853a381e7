import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SettingsError } from "../../../src/errors.js";
import { loadSettings, policyFromSettings, SETTINGS_SCHEMA } from "../../../src/settings.js";
import { aSettingsEnv, SERVICE_PRINCIPAL_ID, SUBSCRIPTION_ID, WORKSPACE_ID } from "../../builders/index.js";

const OTHER_WORKSPACE = "99999999-9999-9999-9999-999999999999";

function settingsError(env: Record<string, string | undefined>): SettingsError {
  try {
    loadSettings(env);
  } catch (error) {
    if (error instanceof SettingsError) return error;
    throw error;
  }
  throw new Error("expected loadSettings to throw a SettingsError");
}

describe("SETTINGS_SCHEMA", () => {
  it("lists every setting once, prefixed ROTATOR_, with a description", () => {
    const names = SETTINGS_SCHEMA.map((spec) => spec.name);
    expect(new Set(names).size).toBe(names.length);
    for (const spec of SETTINGS_SCHEMA) {
      expect(spec.name).toMatch(/^ROTATOR_[A-Z_]+$/);
      expect(spec.description.length).toBeGreaterThan(20);
      if (spec.required) expect(spec.default).toBeUndefined();
    }
  });

  it("keeps the five names the issue fixes, with their defaults", () => {
    const byName = new Map(SETTINGS_SCHEMA.map((spec) => [spec.name, spec]));
    expect(byName.get("ROTATOR_QUIET_PERIOD")).toMatchObject({ required: false, default: "P1D" });
    expect(byName.get("ROTATOR_INGESTION_MARGIN")).toMatchObject({ required: true });
    expect(byName.get("ROTATOR_MODE")).toMatchObject({ required: true });
    expect(byName.get("ROTATOR_TIMER_SCHEDULE")).toMatchObject({ required: true });
    expect(byName.get("ROTATOR_EMERGENCY_QUIET_PERIOD")).toMatchObject({ required: false, default: "PT1H" });
  });

  it("has examples that load together (with one journal location)", () => {
    const env: Record<string, string | undefined> = Object.fromEntries(
      SETTINGS_SCHEMA.map((spec) => [spec.name, spec.example]),
    );
    env.ROTATOR_JOURNAL_CONNECTION_STRING = undefined;
    expect(() => loadSettings(env)).not.toThrow();
  });
});

describe("loadSettings", () => {
  it("loads a valid environment and applies defaults", () => {
    const settings = loadSettings(aSettingsEnv());
    expect(settings).toMatchObject({
      quietPeriodMs: 86_400_000,
      emergencyQuietPeriodMs: 3_600_000,
      ingestionMarginMs: 1_800_000,
      allowShortQuietPeriod: false,
      maxIngestionLatencyMs: 1_200_000,
      emergencyCooldownMs: 60_000,
      mode: "enforce",
      timerSchedule: "0 */15 * * * *",
      subscriptions: [SUBSCRIPTION_ID],
      auditTable: "AzureDiagnostics",
      servicePrincipalId: SERVICE_PRINCIPAL_ID,
      repointConcurrency: 16,
      viewMaxAgeMs: 60_000,
      reconcileDeadlineMs: 240_000,
      journal: { kind: "connectionString", connectionString: "UseDevelopmentStorage=true" },
      journalTable: "rotatorjournal",
      minRsaBits: { kusto: 2048, cosmos: 3072, cassandra: 2048 },
    });
    expect(settings.eventsTopicKey).toBeUndefined();
    expect(settings.managedVaults).toEqual([
      {
        vaultUrl: "https://kv1.vault.azure.net/",
        vaultName: "kv1",
        hostKind: "vault",
        workspaceId: WORKSPACE_ID,
        auditTable: "AzureDiagnostics",
      },
      {
        vaultUrl: "https://hsm1.managedhsm.azure.net/",
        vaultName: "hsm1",
        hostKind: "managedHsm",
        workspaceId: WORKSPACE_ID,
        auditTable: "AzureDiagnostics",
      },
    ]);
  });

  it("accepts good values for every setting", () => {
    const settings = loadSettings(
      aSettingsEnv({
        ROTATOR_QUIET_PERIOD: "PT30S",
        ROTATOR_EMERGENCY_QUIET_PERIOD: "PT5S",
        ROTATOR_INGESTION_MARGIN: "PT0.5S",
        ROTATOR_ALLOW_SHORT_QUIET_PERIOD: "true",
        ROTATOR_MAX_INGESTION_LATENCY: "PT6H",
        ROTATOR_EMERGENCY_COOLDOWN: "PT10S",
        ROTATOR_MODE: "report",
        ROTATOR_TIMER_SCHEDULE: "*/10 * * * * *",
        ROTATOR_MANAGED_VAULTS: " https://KV1.vault.azure.net/ , https://hsm1.managedhsm.azure.net",
        ROTATOR_SUBSCRIPTIONS: `${SUBSCRIPTION_ID},${OTHER_WORKSPACE.toUpperCase()}`,
        ROTATOR_AUDIT_WORKSPACES: `KV1=${WORKSPACE_ID}, hsm1 = ${OTHER_WORKSPACE}`,
        ROTATOR_AUDIT_TABLE: "AZKVAuditLogs",
        ROTATOR_REPOINT_CONCURRENCY: "32",
        ROTATOR_JOURNAL_CONNECTION_STRING: undefined,
        ROTATOR_JOURNAL_TABLE_ENDPOINT: "https://stjournal.table.core.windows.net/",
        ROTATOR_JOURNAL_TABLE: "Journal2",
        ROTATOR_EVENTS_TOPIC_KEY: "secret-key",
        ROTATOR_MIN_RSA_BITS: "cosmos=4096",
      }),
    );
    expect(settings).toMatchObject({
      quietPeriodMs: 30_000,
      emergencyQuietPeriodMs: 5_000,
      ingestionMarginMs: 500,
      allowShortQuietPeriod: true,
      maxIngestionLatencyMs: 6 * 3_600_000,
      emergencyCooldownMs: 10_000,
      mode: "report",
      subscriptions: [SUBSCRIPTION_ID, OTHER_WORKSPACE],
      auditTable: "AZKVAuditLogs",
      repointConcurrency: 32,
      journal: { kind: "tableEndpoint", endpoint: "https://stjournal.table.core.windows.net" },
      journalTable: "Journal2",
      eventsTopicKey: "secret-key",
      minRsaBits: { kusto: 2048, cosmos: 4096, cassandra: 2048 },
    });
    // AZKVAuditLogs is for vaults only: the HSM keeps AzureDiagnostics.
    expect(settings.managedVaults.map((v) => [v.vaultName, v.workspaceId, v.auditTable])).toEqual([
      ["kv1", WORKSPACE_ID, "AZKVAuditLogs"],
      ["hsm1", OTHER_WORKSPACE, "AzureDiagnostics"],
    ]);
  });

  it("builds the planner policy", () => {
    expect(policyFromSettings(loadSettings(aSettingsEnv({ ROTATOR_MODE: "report" })))).toEqual({
      quietPeriodMs: 86_400_000,
      emergencyQuietPeriodMs: 3_600_000,
      ingestionMarginMs: 1_800_000,
      maxIngestionLatencyMs: 1_200_000,
      servicePrincipalId: SERVICE_PRINCIPAL_ID,
      mode: "report",
      minRsaBits: { kusto: 2048, cosmos: 3072, cassandra: 2048 },
      acceptedRsaBits: { kusto: [2048] },
      restoreWatchMs: 604_800_000,
    });
  });

  it("reads ROTATOR_RESTORE_WATCH, P7D by default, and refuses what is not a duration", () => {
    expect(loadSettings(aSettingsEnv()).restoreWatchMs).toBe(7 * 86_400_000);
    expect(loadSettings(aSettingsEnv({ ROTATOR_RESTORE_WATCH: "PT30S" })).restoreWatchMs).toBe(30_000);
    expect(() => loadSettings(aSettingsEnv({ ROTATOR_RESTORE_WATCH: "a week" }))).toThrow(
      /ROTATOR_RESTORE_WATCH/,
    );
  });

  it.each([
    [
      "as long as the quiet period",
      { ROTATOR_QUIET_PERIOD: "PT30M", ROTATOR_INGESTION_MARGIN: "PT30M" },
      /shorter than/,
    ],
    [
      "as long as the emergency quiet period",
      {
        ROTATOR_EMERGENCY_QUIET_PERIOD: "PT20M",
        ROTATOR_INGESTION_MARGIN: "PT20M",
        ROTATOR_ALLOW_SHORT_QUIET_PERIOD: "true",
      },
      /shorter than/,
    ],
    [
      "of a year",
      {
        ROTATOR_QUIET_PERIOD: "P400D",
        ROTATOR_EMERGENCY_QUIET_PERIOD: "P400D",
        ROTATOR_INGESTION_MARGIN: "P365D",
      },
      /shorter than|at most PT6H/,
    ],
    [
      "over six hours",
      {
        ROTATOR_QUIET_PERIOD: "P7D",
        ROTATOR_EMERGENCY_QUIET_PERIOD: "P1D",
        ROTATOR_INGESTION_MARGIN: "PT7H",
      },
      /at most PT6H/,
    ],
  ])("refuses an ingestion margin %s", (_name, env, message) => {
    const error = settingsError(aSettingsEnv(env));
    expect(error.setting).toBe("ROTATOR_INGESTION_MARGIN");
    expect(error.message).toMatch(message);
  });

  describe("the quiet-period floor", () => {
    it.each([
      ["ROTATOR_QUIET_PERIOD", { ROTATOR_QUIET_PERIOD: "PT30S", ROTATOR_INGESTION_MARGIN: "PT10S" }],
      ["ROTATOR_QUIET_PERIOD", { ROTATOR_QUIET_PERIOD: "PT59M59S", ROTATOR_INGESTION_MARGIN: "PT10M" }],
      [
        "ROTATOR_EMERGENCY_QUIET_PERIOD",
        { ROTATOR_EMERGENCY_QUIET_PERIOD: "PT30M", ROTATOR_INGESTION_MARGIN: "PT10M" },
      ],
    ])("refuses %s below PT1H, naming the setting and the opt-in", (name, env) => {
      const error = settingsError(aSettingsEnv(env));
      expect(error.setting).toBe(name);
      expect(error.message).toMatch(new RegExp(`^${name} \\(.+\\) must be at least PT1H`));
      expect(error.message).toContain("ROTATOR_ALLOW_SHORT_QUIET_PERIOD=true");
    });

    it("accepts PT1H exactly", () => {
      const settings = loadSettings(
        aSettingsEnv({ ROTATOR_QUIET_PERIOD: "PT1H", ROTATOR_EMERGENCY_QUIET_PERIOD: "PT1H" }),
      );
      expect(settings.quietPeriodMs).toBe(3_600_000);
    });

    it("is never below the longest ingestion latency allowed for", () => {
      const error = settingsError(
        aSettingsEnv({ ROTATOR_MAX_INGESTION_LATENCY: "PT3H", ROTATOR_EMERGENCY_QUIET_PERIOD: "PT2H" }),
      );
      expect(error.setting).toBe("ROTATOR_EMERGENCY_QUIET_PERIOD");
      expect(error.message).toContain("must be at least ROTATOR_MAX_INGESTION_LATENCY (PT3H)");
      expect(
        loadSettings(
          aSettingsEnv({ ROTATOR_MAX_INGESTION_LATENCY: "PT3H", ROTATOR_EMERGENCY_QUIET_PERIOD: "PT3H" }),
        ).maxIngestionLatencyMs,
      ).toBe(3 * 3_600_000);
    });

    it("is lifted only by ROTATOR_ALLOW_SHORT_QUIET_PERIOD=true", () => {
      const short = {
        ROTATOR_QUIET_PERIOD: "PT30S",
        ROTATOR_EMERGENCY_QUIET_PERIOD: "PT20S",
        ROTATOR_INGESTION_MARGIN: "PT10S",
      };
      expect(
        settingsError(aSettingsEnv({ ...short, ROTATOR_ALLOW_SHORT_QUIET_PERIOD: "false" })).problems,
      ).toHaveLength(2);
      const settings = loadSettings(aSettingsEnv({ ...short, ROTATOR_ALLOW_SHORT_QUIET_PERIOD: "true" }));
      expect(settings).toMatchObject({
        quietPeriodMs: 30_000,
        emergencyQuietPeriodMs: 20_000,
        allowShortQuietPeriod: true,
      });
    });
  });

  it("names the setting and the expected shape for a bad duration", () => {
    const error = settingsError(aSettingsEnv({ ROTATOR_QUIET_PERIOD: "1 day" }));
    expect(error.setting).toBe("ROTATOR_QUIET_PERIOD");
    expect(error.message).toBe(
      'ROTATOR_QUIET_PERIOD must be an ISO 8601 duration such as P1D or PT30S; got "1 day"',
    );
  });

  it("explains why months are refused", () => {
    expect(settingsError(aSettingsEnv({ ROTATOR_QUIET_PERIOD: "P1M" })).message).toContain(
      "years and months vary in length",
    );
  });

  it.each([
    ["ROTATOR_QUIET_PERIOD", "PT0S", "longer than zero"],
    ["ROTATOR_EMERGENCY_QUIET_PERIOD", "1h", "ISO 8601 duration"],
    ["ROTATOR_INGESTION_MARGIN", "P0D", "longer than zero"],
    ["ROTATOR_MODE", "dry-run", 'must be "enforce" or "report"'],
    ["ROTATOR_MODE", "Enforce", 'must be "enforce" or "report"'],
    ["ROTATOR_TIMER_SCHEDULE", "*/5 * * * *", "expected 6 fields, got 5"],
    ["ROTATOR_MANAGED_VAULTS", "https://kv1.example.com", "not on a Key Vault or Managed HSM host"],
    ["ROTATOR_MANAGED_VAULTS", "http://kv1.vault.azure.net", "must use https"],
    ["ROTATOR_MANAGED_VAULTS", "https://kv1.vault.azure.net/keys/k", "must not have a path"],
    ["ROTATOR_MANAGED_VAULTS", "https://kv1.vault.azure.net,https://KV1.vault.azure.net", "lists kv1 twice"],
    ["ROTATOR_MANAGED_VAULTS", " , ", "must list at least one vault or Managed HSM URL"],
    ["ROTATOR_SUBSCRIPTIONS", "my-subscription", "is not a GUID"],
    ["ROTATOR_AUDIT_WORKSPACES", `kv1:${WORKSPACE_ID}`, "must be <vaultName>=<workspaceId>"],
    ["ROTATOR_AUDIT_WORKSPACES", "kv1=not-a-guid,hsm1=not-a-guid", "is not a GUID"],
    ["ROTATOR_AUDIT_TABLE", "AzureActivity", 'must be "AzureDiagnostics" or "AZKVAuditLogs"'],
    ["ROTATOR_SERVICE_PRINCIPAL_ID", "rotator", "is not a GUID"],
    ["ROTATOR_REPOINT_CONCURRENCY", "0", "integer from 1 to 32"],
    ["ROTATOR_REPOINT_CONCURRENCY", "33", "integer from 1 to 32"],
    ["ROTATOR_REPOINT_CONCURRENCY", "2.5", "integer from 1 to 32"],
    ["ROTATOR_JOURNAL_CONNECTION_STRING", "just-a-string", "Key=Value"],
    ["ROTATOR_JOURNAL_CONNECTION_STRING", "AccountName=x", "AccountName and AccountKey"],
    ["ROTATOR_JOURNAL_TABLE", "1journal", "letter followed by 2-62 letters or digits"],
    ["ROTATOR_JOURNAL_TABLE", "my-journal", "letter followed by 2-62 letters or digits"],
    [
      "ROTATOR_EVENTS_TOPIC_ENDPOINT",
      "https://topic.westeurope.eventgrid.azure.net/api/events",
      "<region>-1",
    ],
    ["ROTATOR_EVENTS_TOPIC_ENDPOINT", "https://topic.westeurope-1.eventgrid.azure.net", "/api/events"],
    ["ROTATOR_ALLOW_SHORT_QUIET_PERIOD", "yes", 'must be "true" or "false"'],
    ["ROTATOR_MAX_INGESTION_LATENCY", "20 minutes", "ISO 8601 duration"],
    ["ROTATOR_MAX_INGESTION_LATENCY", "PT0S", "longer than zero"],
    ["ROTATOR_MAX_INGESTION_LATENCY", "PT6H1S", "at most PT6H"],
    ["ROTATOR_EMERGENCY_COOLDOWN", "P1M", "years and months"],
    ["ROTATOR_EMERGENCY_COOLDOWN", "PT0S", "longer than zero"],
    ["ROTATOR_VIEW_MAX_AGE", "60", "ISO 8601 duration"],
    ["ROTATOR_VIEW_MAX_AGE", "PT0.5S", "from PT1S to PT1H"],
    ["ROTATOR_VIEW_MAX_AGE", "PT2H", "from PT1S to PT1H"],
    ["ROTATOR_RECONCILE_DEADLINE", "PT0.5S", "from PT1S to PT2H"],
    ["ROTATOR_RECONCILE_DEADLINE", "PT3H", "from PT1S to PT2H"],
    ["ROTATOR_MIN_RSA_BITS", "kusto=1024", "from 2048 to 16384"],
    ["ROTATOR_MIN_RSA_BITS", "sql=2048", "kind one of kusto, cosmos, cassandra"],
  ])("rejects %s=%j", (name, value, expected) => {
    const error = settingsError(aSettingsEnv({ [name]: value }));
    expect(error.setting).toBe(name);
    expect(error.message).toContain(name);
    expect(error.message).toContain(expected);
  });

  it("rejects an invalid journal table endpoint", () => {
    const error = settingsError(
      aSettingsEnv({
        ROTATOR_JOURNAL_CONNECTION_STRING: undefined,
        ROTATOR_JOURNAL_TABLE_ENDPOINT: "https://stjournal.blob.core.windows.net",
      }),
    );
    expect(error.setting).toBe("ROTATOR_JOURNAL_TABLE_ENDPOINT");
    expect(error.message).toContain("https://<account>.table.core.windows.net");
  });

  it("never echoes a bad connection string, which may hold a secret", () => {
    const error = settingsError(aSettingsEnv({ ROTATOR_JOURNAL_CONNECTION_STRING: "AccountKey=s3cr3t" }));
    expect(error.message).not.toContain("s3cr3t");
  });

  it.each(SETTINGS_SCHEMA.filter((spec) => spec.required).map((spec) => spec.name))(
    "requires %s, showing an example",
    (name) => {
      const error = settingsError(aSettingsEnv({ [name]: undefined }));
      expect(error.setting).toBe(name);
      expect(error.message).toMatch(
        new RegExp(`^${name} is required but not set\\. It holds: .+ Example: "`),
      );
    },
  );

  it("treats an empty value as unset", () => {
    expect(settingsError(aSettingsEnv({ ROTATOR_MODE: "  " })).message).toContain("ROTATOR_MODE is required");
    expect(loadSettings(aSettingsEnv({ ROTATOR_QUIET_PERIOD: "" })).quietPeriodMs).toBe(86_400_000);
  });

  describe("cross-checks", () => {
    it("requires a workspace for every managed vault", () => {
      const error = settingsError(aSettingsEnv({ ROTATOR_AUDIT_WORKSPACES: `kv1=${WORKSPACE_ID}` }));
      expect(error.setting).toBe("ROTATOR_AUDIT_WORKSPACES");
      expect(error.message).toContain("no workspace for managed vault hsm1; add hsm1=<workspaceId>");
    });

    it("refuses a workspace for a vault that is not managed", () => {
      const error = settingsError(
        aSettingsEnv({
          ROTATOR_AUDIT_WORKSPACES: `kv1=${WORKSPACE_ID},hsm1=${WORKSPACE_ID},kv2=${WORKSPACE_ID}`,
        }),
      );
      expect(error.message).toContain("names kv2, which is not in ROTATOR_MANAGED_VAULTS");
    });

    it("requires exactly one journal location", () => {
      const neither = settingsError(aSettingsEnv({ ROTATOR_JOURNAL_CONNECTION_STRING: undefined }));
      expect(neither.message).toContain("exactly one journal location is needed");
      expect(neither.message).toContain("but neither is set");
      const both = settingsError(
        aSettingsEnv({ ROTATOR_JOURNAL_TABLE_ENDPOINT: "https://stjournal.table.core.windows.net" }),
      );
      expect(both.message).toContain("not both");
    });
  });

  it("reports every problem at once", () => {
    const error = settingsError({ ROTATOR_MODE: "sometimes", ROTATOR_QUIET_PERIOD: "soon" });
    expect(error.problems.length).toBeGreaterThan(5);
    expect(error.message).toMatch(/^\d+ settings are invalid:\n- /);
    expect(error.message).toContain('ROTATOR_MODE must be "enforce" or "report"; got "sometimes"');
    expect(error.message).toContain("ROTATOR_INGESTION_MARGIN is required but not set");
    expect(error.problems.map((problem) => problem.setting)).toContain("ROTATOR_QUIET_PERIOD");
  });
});

describe("ROTATOR_RECONCILE_DEADLINE", () => {
  it("defaults to a margin below host.json's functionTimeout", () => {
    const host = JSON.parse(readFileSync(new URL("../../../host.json", import.meta.url), "utf8")) as {
      functionTimeout: string;
    };
    const [hours = 0, minutes = 0, seconds = 0] = host.functionTimeout.split(":").map(Number);
    const timeoutMs = ((hours * 60 + minutes) * 60 + seconds) * 1000;
    const deadlineMs = loadSettings(aSettingsEnv()).reconcileDeadlineMs;
    expect(deadlineMs).toBe(240_000);
    // A minute is left for the keys already begun, the checkpoint and the outcome events.
    expect(timeoutMs - deadlineMs).toBeGreaterThanOrEqual(60_000);
  });
});
