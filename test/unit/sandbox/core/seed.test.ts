import { describe, expect, it } from "vitest";
import type { Estate } from "../../../../sandbox/estate.js";
import {
  defaultEstate,
  EstateValidationError,
  resolveEstateKeyRef,
  seedStore,
  validateEstate,
} from "../../../../sandbox/seed.js";
import { SandboxStore } from "../../../../sandbox/store.js";

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

function seeded(estate: Estate = defaultEstate()): SandboxStore {
  const store = new SandboxStore({ now: () => NOW });
  seedStore(store, estate);
  return store;
}

/** The default estate with one change applied to a deep copy. */
function estateWith(change: (estate: Record<string, unknown> & Estate) => void): unknown {
  const copy = structuredClone(defaultEstate()) as Record<string, unknown> & Estate;
  change(copy);
  return copy;
}

describe("default estate", () => {
  it("seeds vaults, HSM keys and versions of the right age and size", () => {
    const store = seeded();
    const vault = store.vaults.get("kv-cmk-1");
    expect(vault?.uri).toBe("https://kv-cmk-1.vault.azure.net/");
    expect(vault?.resourceId).toBe(
      "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv-cmk-1",
    );
    const adx = vault?.keys.get("adx-key");
    expect(adx?.versions.map((version) => (NOW - version.created) / 3_600_000)).toEqual([720, 48]);
    expect(adx?.versions[0]?.version).toMatch(/^[0-9a-f]{32}$/);
    expect(adx?.versions[0]?.version).not.toBe(adx?.versions[1]?.version);
    expect(
      vault?.keys.get("cosmos-key")?.versions[0]?.material.pair().publicKey.asymmetricKeyDetails
        ?.modulusLength,
    ).toBe(3072);
    const hsm = store.vaults.get("hsm-cmk-1");
    expect(hsm?.uri).toBe("https://hsm-cmk-1.managedhsm.azure.net/");
    expect(hsm?.keys.get("cosmos-hsm-key")?.kty).toBe("RSA-HSM");
  });

  it("covers the cases the README lists: no pinned Cosmos account, Cassandra on Key Vault keys, an HSM key with a consumer", () => {
    const estate = defaultEstate();
    const consumers = estate.consumers;
    const kusto = consumers.filter((consumer) => consumer.kind === "kusto");
    expect(kusto.map((consumer) => consumer.key.version)).toEqual(expect.arrayContaining(["newest", "none"]));
    const cosmos = consumers.filter((consumer) => consumer.kind === "cosmos");
    expect(cosmos.every((consumer) => consumer.key.version === "none")).toBe(true);
    expect(cosmos.map((consumer) => consumer.backupPolicy.type)).toEqual(
      expect.arrayContaining(["Periodic", "Continuous"]),
    );
    expect(cosmos.some((consumer) => consumer.defaultIdentity === "FirstPartyIdentity")).toBe(true);
    const hsmVault = estate.vaults.find((vault) => vault.kind === "managedHsm")?.name;
    expect(cosmos.some((consumer) => consumer.key.vault === hsmVault)).toBe(true);
    const cassandra = consumers.filter((consumer) => consumer.kind === "cassandra");
    const dataCenters = cassandra.flatMap((consumer) => consumer.dataCenters);
    expect(dataCenters).toHaveLength(2);
    for (const dc of dataCenters) {
      expect([dc.managedDiskKey.vault, dc.backupStorageKey.vault]).not.toContain(hsmVault);
      expect([dc.managedDiskKey.version, dc.backupStorageKey.version]).not.toContain("none");
    }
  });

  it("seeds the workspace's object-id column, unwatched subscriptions and the ingestion latency range", () => {
    const estate = defaultEstate();
    estate.workspaces[0] = {
      ...(estate.workspaces[0] as Estate["workspaces"][number]),
      objectIdColumn: "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g",
    };
    estate.subscriptions.push({
      id: "00000000-0000-0000-0000-000000000002",
      resourceGroups: ["rg"],
      watched: false,
    });
    estate.simulation = { ...estate.simulation, ingestionLatencySeconds: { min: 5, max: 1200 } };
    const store = seeded(estate);
    expect(store.workspaces.get("a1b2c3d4-0000-4000-8000-000000000001")?.objectIdColumn).toBe(
      "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g",
    );
    expect(store.subscriptions.map((subscription) => subscription.watched)).toEqual([true, false]);
    expect(store.ingestion.latencySeconds).toEqual({ min: 5, max: 1200 });
  });

  it("gives user-assigned identities ARM ids and resolves scope shorthands", () => {
    const store = seeded();
    expect(store.identityByName("uai-adx-1")?.resourceId).toBe(
      "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-data/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-adx-1",
    );
    expect(store.identityByName("cassandra-1")?.resourceId).toBeUndefined();
    const adxAssignment = store.roleAssignments.find(
      (assignment) => assignment.principalId === store.identityByName("uai-adx-1")?.objectId,
    );
    expect(adxAssignment?.scope).toMatch(
      /\/providers\/Microsoft\.KeyVault\/vaults\/kv-cmk-1\/keys\/adx-key$/,
    );
    expect(store.roleDefinitions.get("Key Vault Crypto Service Encryption User")?.dataActions).toContain(
      "Microsoft.KeyVault/vaults/keys/unwrap/action",
    );
    expect(store.workspaces.get("a1b2c3d4-0000-4000-8000-000000000001")?.resourceId).toContain(
      "Microsoft.OperationalInsights/workspaces/law-audit",
    );
    expect(store.customTopics[0]?.host).toBe("rotator-events.westeurope-1.eventgrid.azure.net");
  });

  it("resolves consumer key references to seeded versions", () => {
    const store = seeded();
    const versions = store.vaults.get("kv-cmk-1")?.keys.get("adx-key")?.versions ?? [];
    expect(resolveEstateKeyRef(store, { vault: "kv-cmk-1", key: "adx-key", version: "newest" })).toBe(
      versions[1]?.version,
    );
    expect(resolveEstateKeyRef(store, { vault: "kv-cmk-1", key: "adx-key", version: 0 })).toBe(
      versions[0]?.version,
    );
    expect(
      resolveEstateKeyRef(store, { vault: "kv-cmk-1", key: "adx-key", version: "none" }),
    ).toBeUndefined();
  });
});

describe("estate validation", () => {
  const cases: [string, (estate: Record<string, unknown> & Estate) => void, RegExp][] = [
    [
      "missing subscriptions",
      (e) => Reflect.deleteProperty(e, "subscriptions"),
      /subscriptions must be an array/,
    ],
    [
      "bad object id",
      (e) => Object.assign(e.identities[0] ?? {}, { objectId: "x" }),
      /identities\[0\]\.objectId/,
    ],
    [
      "unknown principal",
      (e) => Object.assign(e.roleAssignments[0] ?? {}, { principal: "ghost" }),
      /roleAssignments\[0\]\.principal \("ghost"\) is not in identities/,
    ],
    [
      "unknown role",
      (e) => Object.assign(e.roleAssignments[0] ?? {}, { role: "Superhero" }),
      /roleAssignments\[0\]\.role/,
    ],
    [
      "key shorthand to a missing key",
      (e) => Object.assign(e.roleAssignments[0] ?? {}, { scope: "key:kv-cmk-1/nope" }),
      /names a key that is not in vaults/,
    ],
    [
      "vault without versions",
      (e) => Object.assign(e.vaults[0]?.keys[0] ?? {}, { versions: [] }),
      /vaults\[0\]\.keys\[0\]\.versions must not be empty/,
    ],
    [
      "version index out of range",
      (e) => Object.assign(e.consumers[0] ?? {}, { key: { vault: "kv-cmk-1", key: "adx-key", version: 5 } }),
      /consumers\[0\]\.key\.version must be "newest", "none" or a version index from 0 to 1/,
    ],
    [
      "unknown consumer kind",
      (e) => Object.assign(e.consumers[0] ?? {}, { kind: "redis" }),
      /consumers\[0\]\.kind/,
    ],
    [
      "unknown workspace",
      (e) => Object.assign(e.vaults[0] ?? {}, { workspace: "nope" }),
      /vaults\[0\]\.workspace/,
    ],
    [
      "resource group outside the subscription",
      (e) => Object.assign(e.vaults[0] ?? {}, { resourceGroup: "rg-other" }),
      /vaults\[0\]\.resourceGroup \("rg-other"\) is not a resource group/,
    ],
    [
      "a version created before any clock could tell",
      (e) => Object.assign(e.vaults[0]?.keys[0]?.versions[0] ?? {}, { ageHours: 1e12 }),
      /vaults\[0\]\.keys\[0\]\.versions\[0\]\.ageHours must be at most/,
    ],
    [
      "a consumer name ARM would refuse",
      (e) => Object.assign(e.consumers[0] ?? {}, { name: "x/y" }),
      /consumers\[0\]\.name/,
    ],
    [
      "a pinned Cosmos account",
      (e) =>
        Object.assign(e.consumers.find((c) => c.kind === "cosmos") ?? {}, {
          key: { vault: "kv-cmk-1", key: "cosmos-key", version: "newest" },
        }),
      /consumers\[2\]\.key\.version must be "none": Cosmos DB refuses a versioned keyVaultKeyUri/,
    ],
    [
      "a Cassandra key in a Managed HSM",
      (e) => {
        const dc = e.consumers.find((c) => c.kind === "cassandra");
        if (dc?.kind === "cassandra" && dc.dataCenters[0])
          dc.dataCenters[0].managedDiskKey = { vault: "hsm-cmk-1", key: "cosmos-hsm-key", version: "newest" };
      },
      /managedDiskKey\.vault \("hsm-cmk-1"\) is a Managed HSM; Managed Instance for Apache Cassandra takes customer-managed keys from Key Vault only/,
    ],
    [
      "a FirstPartyIdentity account without the Cosmos DB principal",
      (e) => {
        e.identities = e.identities.filter((identity) => identity.name !== "azure-cosmos-db");
        e.roleAssignments = e.roleAssignments.filter(
          (assignment) => assignment.principal !== "azure-cosmos-db",
        );
      },
      /defaultIdentity is "FirstPartyIdentity", but no identity has the Azure Cosmos DB application's clientId a232010e-820c-4083-83bb-3ace5fc29d0b/,
    ],
    [
      "a UserAssignedIdentity naming another identity",
      (e) =>
        Object.assign(e.consumers.find((c) => c.name === "cosmos-hsm") ?? {}, {
          defaultIdentity: "UserAssignedIdentity=uai-adx-1",
        }),
      /must name the account's identity "uai-cosmos-hsm"/,
    ],
    [
      "a malformed defaultIdentity",
      (e) => Object.assign(e.consumers.find((c) => c.kind === "cosmos") ?? {}, { defaultIdentity: "Mine" }),
      /defaultIdentity must be "FirstPartyIdentity", "SystemAssignedIdentity" or "UserAssignedIdentity=/,
    ],
    [
      "jitter longer than the interval",
      (e) =>
        Object.assign(e.consumers[0] ?? {}, { behaviour: { unwrapIntervalSeconds: 60, jitterSeconds: 61 } }),
      /consumers\[0\]\.behaviour\.jitterSeconds \(61\) must be at most the unwrap interval \(60\)/,
    ],
    [
      "an unwrap interval below a second",
      (e) => Object.assign(e.consumers[0] ?? {}, { behaviour: { unwrapIntervalSeconds: 0 } }),
      /consumers\[0\]\.behaviour\.unwrapIntervalSeconds must be at least 1/,
    ],
    [
      "an auto-stop flag that is not a boolean",
      (e) => Object.assign(e.consumers[0] ?? {}, { enableAutoStop: "yes" }),
      /consumers\[0\]\.enableAutoStop must be true or false/,
    ],
    [
      "an unknown object-id column",
      (e) => Object.assign(e.workspaces[0] ?? {}, { objectIdColumn: "identity_claim_upn_s" }),
      /workspaces\[0\]\.objectIdColumn must be one of "identity_claim_oid_g"/,
    ],
    [
      "an ingestion latency range upside down",
      (e) => {
        e.simulation = { ingestionLatencySeconds: { min: 60, max: 5 } };
      },
      /simulation\.ingestionLatencySeconds\.max must be at least min/,
    ],
    [
      "an HSM key with more than 100 versions",
      (e) =>
        Object.assign(e.vaults[1]?.keys[0] ?? {}, {
          versions: Array.from({ length: 101 }, (_, index) => ({ ageHours: 200 - index })),
        }),
      /vaults\[1\]\.keys\[0\]\.versions has 101; a Managed HSM keeps at most 100/,
    ],
  ];
  it.each(cases)("rejects %s with the field named", (_name, change, message) => {
    expect(() => validateEstate(estateWith(change))).toThrow(EstateValidationError);
    expect(() => validateEstate(estateWith(change))).toThrow(message);
  });

  it("accepts the default estate", () => {
    expect(() => validateEstate(defaultEstate())).not.toThrow();
  });
});
