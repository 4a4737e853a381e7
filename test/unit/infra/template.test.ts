/**
 * Reads infra/main.json and checks what a security reviewer would: every security setting,
 * least-privilege roles, the event wiring, and that the app settings the template writes are
 * exactly what the service's settings schema knows.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseIsoDuration } from "../../../src/duration.js";
import { parseNcrontab } from "../../../src/schedule/ncrontab.js";
import { loadSettings, SETTINGS_SCHEMA } from "../../../src/settings.js";
import { aSettingsEnv } from "../../builders/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");

type Json = Record<string, unknown>;
interface ArmResource extends Json {
  type: string;
  name: string;
  properties?: Json;
  condition?: string;
}
interface ArmTemplate extends Json {
  parameters: Record<string, Json>;
  variables: Record<string, unknown>;
  resources: ArmResource[];
}

const template = JSON.parse(readFileSync(join(root, "infra/main.json"), "utf8")) as ArmTemplate;
const parametersFile = JSON.parse(readFileSync(join(root, "infra/main.parameters.json"), "utf8")) as {
  parameters: Record<string, { value: unknown }>;
};

function nestedTemplates(resources: ArmResource[]): ArmTemplate[] {
  return resources
    .filter((resource) => resource.type === "Microsoft.Resources/deployments")
    .map((resource) => (resource.properties as { template: ArmTemplate }).template);
}

/** Every resource, including those of nested deployments. */
function allResources(root: ArmTemplate): ArmResource[] {
  return [...root.resources, ...nestedTemplates(root.resources).flatMap(allResources)];
}

const resources = allResources(template);
const ofType = (type: string) => resources.filter((resource) => resource.type === type);
const one = (type: string): ArmResource => {
  const found = ofType(type);
  expect(found, type).toHaveLength(1);
  return found[0]!;
};

const FORBIDDEN_ROLES: Record<string, string> = {
  "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
  "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
  "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
  "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
  "14b46e9e-c2b7-41b4-b07b-48a6ebf60603": "Key Vault Crypto Officer",
  "f25e0fa2-a7c8-4377-a976-54943a77a395": "Key Vault Contributor",
};

describe("infra/main.json: security settings", () => {
  it("runs the Function App on Flex Consumption, Node 22, with a user-assigned identity and no FTP", () => {
    const plan = one("Microsoft.Web/serverfarms");
    expect(plan.sku).toEqual({ name: "FC1", tier: "FlexConsumption" });
    const site = one("Microsoft.Web/sites");
    const properties = site.properties as Json & { siteConfig: Json; functionAppConfig: { runtime: Json } };
    expect(site.identity).toMatchObject({ type: "UserAssigned" });
    expect(properties.httpsOnly).toBe(true);
    expect(properties.siteConfig.minTlsVersion).toBe("1.2");
    expect(properties.siteConfig.ftpsState).toBe("Disabled");
    expect(properties.functionAppConfig.runtime).toEqual({ name: "node", version: "22" });
    const publishing = ofType("Microsoft.Web/sites/basicPublishingCredentialsPolicies");
    expect(publishing.map((policy) => policy.name).sort()).toEqual([
      "[format('{0}/ftp', variables('functionAppName'))]",
      "[format('{0}/scm', variables('functionAppName'))]",
    ]);
    for (const policy of publishing) expect(policy.properties).toEqual({ allow: false });
  });

  it("keeps no secrets in app settings beyond what the Functions host needs", () => {
    const settings = appSettings();
    for (const [name, value] of Object.entries(settings)) {
      expect(value, name).not.toMatch(/listKeys|AccountKey=|SharedAccessKey|listSecrets/i);
    }
    expect(settings.AzureWebJobsStorage__credential).toBe("managedidentity");
    expect(settings).not.toHaveProperty("AzureWebJobsStorage");
    expect(settings).not.toHaveProperty("ROTATOR_EVENTS_TOPIC_KEY");
    expect(settings).not.toHaveProperty("ROTATOR_JOURNAL_CONNECTION_STRING");
  });

  it("turns shared-key access off on storage and requires TLS 1.2 over HTTPS", () => {
    const storage = one("Microsoft.Storage/storageAccounts");
    expect(storage.properties).toMatchObject({
      allowSharedKeyAccess: false,
      allowBlobPublicAccess: false,
      minimumTlsVersion: "TLS1_2",
      supportsHttpsTrafficOnly: true,
    });
  });

  it("deploys Application Insights on a Log Analytics workspace, with local auth off", () => {
    one("Microsoft.OperationalInsights/workspaces");
    const insights = one("Microsoft.Insights/components");
    expect(insights.properties).toMatchObject({ DisableLocalAuth: true });
    expect(JSON.stringify(insights.properties)).toContain("Microsoft.OperationalInsights/workspaces");
  });

  it("sends AuditEvent of every managed vault and HSM to the workspace, in the table the service reads", () => {
    const diagnostics = ofType("Microsoft.Insights/diagnosticSettings");
    expect(diagnostics.map((setting) => setting.scope)).toEqual([
      "[variables('vaultId')]",
      "[variables('hsmId')]",
    ]);
    for (const setting of diagnostics) {
      expect(setting.properties?.logs).toEqual([{ category: "AuditEvent", enabled: true }]);
      expect(setting.properties?.workspaceId).toBe("[parameters('workspaceId')]");
    }
    // Vaults: the resource-specific table (AZKVAuditLogs) is "Dedicated"; HSMs always use AzureDiagnostics.
    expect(diagnostics[0]?.properties?.logAnalyticsDestinationType).toBe(
      "[if(equals(parameters('auditTable'), 'AZKVAuditLogs'), 'Dedicated', null())]",
    );
    expect(diagnostics[1]?.properties).not.toHaveProperty("logAnalyticsDestinationType");
    expect(appSettings().ROTATOR_AUDIT_TABLE).toBe("[parameters('auditTable')]");
    expect(template.parameters.auditTable?.allowedValues).toEqual(["AzureDiagnostics", "AZKVAuditLogs"]);
  });

  it("disables local auth on the outcome-events custom topic", () => {
    const topic = one("Microsoft.EventGrid/topics");
    expect(topic.properties).toMatchObject({ disableLocalAuth: true, inputSchema: "EventGridSchema" });
  });
});

describe("infra/main.json: Key Vault events", () => {
  it("gives each vault (not HSMs) a system topic whose subscription delivers KeyNewVersionCreated to keyVersionCreated", () => {
    const systemTopic = one("Microsoft.EventGrid/systemTopics");
    expect(systemTopic.condition).toBe("[variables('isVault')]");
    expect(systemTopic.properties).toMatchObject({ topicType: "Microsoft.KeyVault.vaults" });
    const subscription = one("Microsoft.EventGrid/systemTopics/eventSubscriptions");
    const properties = subscription.properties as {
      destination: { endpointType: string; properties: { resourceId: string } };
      filter: { includedEventTypes: string[] };
      retryPolicy: { maxDeliveryAttempts: number; eventTimeToLiveInMinutes: number };
      deadLetterWithResourceIdentity: { deadLetterDestination: { endpointType: string; properties: Json } };
    };
    expect(properties.destination.endpointType).toBe("AzureFunction");
    const deployment = template.resources.find(
      (resource) =>
        resource.type === "Microsoft.Resources/deployments" &&
        JSON.stringify(resource).includes("functionId"),
    );
    expect(JSON.stringify(deployment)).toContain("/functions/keyVersionCreated");
    expect(properties.filter.includedEventTypes).toEqual(["Microsoft.KeyVault.KeyNewVersionCreated"]);
    expect(properties.retryPolicy.maxDeliveryAttempts).toBeGreaterThan(1);
    expect(properties.retryPolicy.eventTimeToLiveInMinutes).toBeGreaterThan(0);
    expect(properties.deadLetterWithResourceIdentity.deadLetterDestination.endpointType).toBe("StorageBlob");
    expect(properties.deadLetterWithResourceIdentity.deadLetterDestination.properties).toMatchObject({
      blobContainerName: "[parameters('deadLetterContainer')]",
    });
  });
});

describe("infra/main.json: least privilege", () => {
  const assignments = ofType("Microsoft.Authorization/roleAssignments");
  const definitions = ofType("Microsoft.Authorization/roleDefinitions");

  it("assigns none of the broad built-in roles", () => {
    const text = JSON.stringify(assignments);
    for (const [id, name] of Object.entries(FORBIDDEN_ROLES)) expect(text, name).not.toContain(id);
    for (const assignment of assignments)
      expect(assignment.properties?.description, assignment.name).toBeTruthy();
  });

  it("grants no delete, purge, wildcard, secret or certificate action anywhere", () => {
    const actions = definitions.flatMap((definition) => {
      const permissions = (definition.properties as { permissions: Json[] }).permissions;
      return permissions.flatMap((permission) =>
        ["actions", "dataActions"].flatMap((field) => resolveList(permission[field])),
      );
    });
    expect(actions.length).toBeGreaterThan(0);
    for (const action of actions) {
      expect(action).not.toMatch(/delete|purge|\*|secrets|certificates|roleAssignments|roleDefinitions/i);
    }
  });

  it("limits the key role to reading keys and versions, creating a version and updating a version", () => {
    expect(template.variables.keyOperatorDataActions).toEqual([
      "Microsoft.KeyVault/vaults/keys/read",
      "Microsoft.KeyVault/vaults/keys/rotate/action",
      "Microsoft.KeyVault/vaults/keys/update/action",
    ]);
  });

  it("limits the consumer role to the three resource types, their operations and identity assignment", () => {
    const actions = template.variables.consumerOperatorActions as string[];
    for (const action of actions) {
      expect(action).toMatch(
        /^Microsoft\.(Kusto\/(clusters|locations\/operationResults)|DocumentDB\/(databaseAccounts|cassandraClusters|locations\/operation(s)?(Status|Results))|ManagedIdentity\/userAssignedIdentities)/,
      );
    }
    expect(actions).toContain("Microsoft.Kusto/clusters/write");
    // Cosmos DB accounts follow the newest version by themselves; the one write is a migration's
    // swap of keyVaultKeyUri to another key (the second way to rotate).
    expect(actions).toContain("Microsoft.DocumentDB/databaseAccounts/read");
    expect(actions).toContain("Microsoft.DocumentDB/databaseAccounts/write");
    expect(actions).toContain("Microsoft.DocumentDB/cassandraClusters/dataCenters/write");
    expect(actions).not.toContain("Microsoft.DocumentDB/cassandraClusters/write");
  });

  it("gives the service Log Analytics Reader on the workspace and Event Grid Data Sender on its topic", () => {
    const text = JSON.stringify(assignments);
    expect(text).toContain("73c42c96-874c-492b-b04d-ab87d138a893"); // Log Analytics Reader
    expect(text).toContain("d5a91429-5739-47e2-a06b-3470a27159e7"); // EventGrid Data Sender
    expect(text).toContain("0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"); // Storage Table Data Contributor (journal)
  });
});

describe("infra/main.json: settings and parameters", () => {
  it("writes only settings the service knows, and every required one", () => {
    const written = Object.keys(appSettings()).filter((name) => name.startsWith("ROTATOR_"));
    const known = new Set(SETTINGS_SCHEMA.map((setting) => setting.name));
    for (const name of written) expect(known.has(name), `${name} is not in SETTINGS_SCHEMA`).toBe(true);
    for (const setting of SETTINGS_SCHEMA.filter((spec) => spec.required)) {
      expect(written, `required ${setting.name} is not written`).toContain(setting.name);
    }
    expect(written).toContain("ROTATOR_JOURNAL_TABLE_ENDPOINT");
  });

  it("defaults that the service's own validation accepts", () => {
    expect(parseIsoDuration(String(template.parameters.quietPeriod?.defaultValue))).toBeGreaterThan(0);
    expect(parseIsoDuration(String(template.parameters.emergencyQuietPeriod?.defaultValue))).toBeGreaterThan(
      0,
    );
    expect(parseIsoDuration(String(template.parameters.ingestionMargin?.defaultValue))).toBeGreaterThan(0);
    expect(() => parseNcrontab(String(template.parameters.timerSchedule?.defaultValue))).not.toThrow();
    expect(template.parameters.mode?.defaultValue).toBe("report");
  });

  it("defaults that load together, above the quiet-period floor, with no opt-in to short quiet periods", () => {
    const defaultOf = (name: string) => String(template.parameters[name]?.defaultValue);
    const settings = loadSettings(
      aSettingsEnv({
        ROTATOR_QUIET_PERIOD: defaultOf("quietPeriod"),
        ROTATOR_EMERGENCY_QUIET_PERIOD: defaultOf("emergencyQuietPeriod"),
        ROTATOR_INGESTION_MARGIN: defaultOf("ingestionMargin"),
        ROTATOR_MAX_INGESTION_LATENCY: defaultOf("maxIngestionLatency"),
        ROTATOR_EMERGENCY_COOLDOWN: defaultOf("emergencyCooldown"),
        ROTATOR_TIMER_SCHEDULE: defaultOf("timerSchedule"),
      }),
    );
    expect(settings.allowShortQuietPeriod).toBe(false);
    expect(appSettings()).not.toHaveProperty("ROTATOR_ALLOW_SHORT_QUIET_PERIOD");
    expect(appSettings().ROTATOR_MAX_INGESTION_LATENCY).toBe("[parameters('maxIngestionLatency')]");
  });

  it("uses every parameter, in the main template and in each nested one", () => {
    for (const scope of [template, ...nestedTemplates(template.resources)]) {
      const body = JSON.stringify({
        variables: scope.variables ?? {},
        resources: scope.resources,
        outputs: scope.outputs ?? {},
      });
      for (const name of Object.keys(scope.parameters)) {
        expect(body, `parameter ${name} is unused`).toContain(`parameters('${name}')`);
      }
    }
  });

  it("gives the parameters file only parameters the template declares, and every required one", () => {
    const declared = Object.keys(template.parameters);
    for (const name of Object.keys(parametersFile.parameters)) expect(declared).toContain(name);
    for (const [name, spec] of Object.entries(template.parameters)) {
      if (!("defaultValue" in spec)) expect(Object.keys(parametersFile.parameters), name).toContain(name);
    }
  });

  it("derives every resource name from the one token", () => {
    const nameVariables = Object.entries(template.variables).filter(
      ([name]) => /Name$/.test(name) && !/RoleName$/.test(name),
    );
    expect(nameVariables.length).toBeGreaterThanOrEqual(7);
    for (const [name, value] of nameVariables)
      expect(String(value), name).toContain("parameters('nameToken')");
    for (const resource of template.resources) {
      if (resource.type === "Microsoft.Authorization/roleAssignments") continue;
      expect(resource.name, resource.type).toMatch(
        /variables\('|parameters\('managedVaults'\)|parameters\('consumerResourceGroups'\)/,
      );
    }
  });
});

function appSettings(): Record<string, string> {
  const site = one("Microsoft.Web/sites");
  const list = (site.properties as { siteConfig: { appSettings: { name: string; value: string }[] } })
    .siteConfig.appSettings;
  const names = list.map((setting) => setting.name);
  expect(new Set(names).size, "duplicate app settings").toBe(names.length);
  return Object.fromEntries(list.map((setting) => [setting.name, setting.value]));
}

function resolveList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === "string") {
    const match = /^\[variables\('([^']+)'\)\]$/.exec(value);
    if (match) return resolveList(template.variables[match[1] ?? ""]);
  }
  return [];
}
