/**
 * Issue 11 scenarios b, e, f, g, h and i on the sandbox, through the function handlers:
 *   b  a FirstPartyIdentity Cosmos DB account with 30-day continuous backups: the backup hold
 *      is there, attributed by the app id its records carry
 *   e  records arrive up to ROTATOR_MAX_INGESTION_LATENCY late and out of order: no wrong disable
 *   f  a workspace with the long object-id column: the evidence is complete and correct
 *   g  Managed HSM rows are read
 *   h  an unknown caller is named through Resource Graph
 *   i  the Managed HSM cap of 100 versions: warned at 90, an emergency rotation past 100 refused
 */
import { randomBytes } from "node:crypto";
import { CryptographyClient } from "@azure/keyvault-keys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpClientFor } from "../../../src/azure/transport.js";
import { COSMOS_FIRST_PARTY_APP_ID } from "../../../src/model.js";
import type { KeyView } from "../../../src/plan/view.js";
import {
  CONSUMERS,
  EngineWorld,
  expectNoPinnedVersionDisabled,
  SUBSCRIPTION,
  sameId,
  versionInUse,
  waitUntil,
} from "./engineWorld.js";

const COSMOS_KEY = "kv-cmk-1/cosmos-key";
const ADX_KEY = "kv-cmk-1/adx-key";
const HSM_KEY = "hsm-cmk-1/cosmos-hsm-key";
const LONG_COLUMN = "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g";

describe("b and e: first-party backups, and late, out-of-order records", () => {
  let world: EngineWorld;

  beforeAll(async () => {
    world = await EngineWorld.start({
      quietPeriod: "PT10S",
      emergencyQuietPeriod: "PT10S",
      // Records up to 3 s late; the previous run's own read is at most a run and 3 s old.
      ingestionMargin: "PT8S",
      settings: { ROTATOR_MAX_INGESTION_LATENCY: "PT3S" },
      estate: (estate) => {
        estate.simulation = { ...estate.simulation, ingestionLatencySeconds: { min: 0, max: 3 } };
        for (const consumer of estate.consumers) {
          if (consumer.kind === "cosmos" && consumer.name === "cosmos-firstparty")
            consumer.pickUpDelaySeconds = 2;
        }
      },
    });
  });

  afterAll(async () => {
    await world?.close();
  });

  it("b: holds the version a FirstPartyIdentity account's 30-day backups need, attributed by app id", async () => {
    const [old, next] = await world.rotateByEvent("kv-cmk-1", "cosmos-key");
    await waitUntil(
      () =>
        [CONSUMERS.cosmosFirstParty, CONSUMERS.cosmosLatest, CONSUMERS.cosmosPeriodic].every(
          (id) => versionInUse(world, id) === next,
        ),
      20_000,
      "every Cosmos DB account on the new version",
    );
    let backup: Awaited<ReturnType<EngineWorld["holdsOf"]>>[number] | undefined;
    await world.timerUntil(async () => {
      expect(world.version("kv-cmk-1", "cosmos-key", old).enabled).toBe(true);
      backup = (await world.holdsOf(COSMOS_KEY, old)).find((hold) => hold.reason === "backup-retention");
      return backup !== undefined;
    }, 60_000);
    // The longest need wins: cosmos-firstparty's 30 days, found through its app id.
    expect(sameId(backup?.consumerId, CONSUMERS.cosmosFirstParty)).toBe(true);
    expect(backup?.message).toContain("cosmos cosmos-firstparty");
    expect(backup?.message).toContain(COSMOS_FIRST_PARTY_APP_ID);
    expect(backup?.message).toContain("P30D");
    // The view names the first-party caller of the old version in words.
    await waitUntil(async () => {
      const view = await world.keyView("kv-cmk-1", "cosmos-key");
      const version = view.versions.find((candidate) => candidate.version === old);
      return (
        version?.hold?.reason === "backup-retention" &&
        version.hold.concernsName === "cosmos cosmos-firstparty" &&
        version.callers.some(
          (caller) => caller.name === "the Azure Cosmos DB application (FirstPartyIdentity accounts)",
        )
      );
    }, 20_000);
    expectNoPinnedVersionDisabled(world);
  });

  it("e: records up to the allowed latency late and out of order never make a wrong disable", async () => {
    const [old, next] = await world.rotateByEvent("kv-cmk-1", "adx-key");
    await world.timerUntilDisabled("kv-cmk-1", "adx-key", old, 60_000);
    expect(versionInUse(world, CONSUMERS.adxPinned)).toBe(next);
    expect(versionInUse(world, CONSUMERS.adxLatest)).toBe(next);
    // The records really arrived out of order.
    const audit = world.sandbox.store.audit;
    expect(
      audit.some((record, index) => index > 0 && record.visibleAt < (audit[index - 1]?.visibleAt ?? 0)),
    ).toBe(true);
    for (const id of Object.values(CONSUMERS)) expect(world.failures(id), id).toEqual([]);
    expectNoPinnedVersionDisabled(world);
  });
});

describe("f, g and h: a long object-id column workspace, Managed HSM rows, an unknown caller", () => {
  let world: EngineWorld;

  beforeAll(async () => {
    world = await EngineWorld.start({
      quietPeriod: "PT6S",
      ingestionMargin: "PT5S",
      estate: (estate) => {
        for (const workspace of estate.workspaces) workspace.objectIdColumn = LONG_COLUMN;
        // A batch job's identity that no consumer carries, allowed to use adx-key.
        estate.identities.push({
          name: "uai-batch",
          objectId: "66666666-0000-0000-0000-000000000001",
          userAssigned: { subscriptionId: SUBSCRIPTION, resourceGroup: "rg-data" },
        });
        estate.roleAssignments.push({
          principal: "uai-batch",
          role: "Key Vault Crypto Service Encryption User",
          scope: "key:kv-cmk-1/adx-key",
        });
      },
    });
  });

  afterAll(async () => {
    await world?.close();
  });

  it("f: in a workspace with the long object-id column the evidence is complete and names each caller", async () => {
    const [old, next] = await world.rotateByEvent("kv-cmk-1", "adx-key");
    // The consumers' calls on the new version, read from the long column, with their names.
    await world.timerUntil(async () => {
      const view = await world.keyView("kv-cmk-1", "adx-key");
      const names = view.versions
        .find((candidate) => candidate.version === next)
        ?.callers.map((caller) => caller.name);
      return (
        view.evidence?.complete === true &&
        view.evidence.canarySeenAt !== null &&
        (names?.includes("kusto adx-pinned") ?? false) &&
        (names?.includes("kusto adx-latest") ?? false)
      );
    }, 30_000);
    await world.timerUntilDisabled("kv-cmk-1", "adx-key", old, 60_000);
    expectNoPinnedVersionDisabled(world);
  });

  it("g: Managed HSM rows are read: the HSM key's evidence is complete and names its consumer", async () => {
    const old = world.newestVersion("hsm-cmk-1", "cosmos-hsm-key");
    const next = await world.newVersion("hsm-cmk-1", "cosmos-hsm-key", "managedhsm.azure.net");
    // Managed HSM sends no events: the timer sees the new version, the account follows by itself.
    let view: KeyView | undefined;
    await world.timerUntil(async () => {
      view = await world.keyView("hsm-cmk-1", "cosmos-hsm-key");
      const newest = view.versions.find((candidate) => candidate.version === next);
      return (
        versionInUse(world, CONSUMERS.cosmosHsm) === next &&
        view.evidence?.complete === true &&
        view.evidence.canarySeenAt !== null &&
        (newest?.callers.some((caller) => caller.name === "cosmos cosmos-hsm") ?? false)
      );
    }, 40_000);
    expect(view?.hostKind).toBe("managedHsm");
    // Once quiet, the account's periodic backups hold the old version: its use was read from HSM rows.
    await world.timerUntil(
      async () =>
        (await world.holdsOf(HSM_KEY, old)).some(
          (hold) => hold.reason === "backup-retention" && sameId(hold.consumerId, CONSUMERS.cosmosHsm),
        ),
      40_000,
    );
    expect(world.version("hsm-cmk-1", "cosmos-hsm-key", old).enabled).toBe(true);
  });

  it("h: an unknown caller of an old version is named through Resource Graph", async () => {
    const [old, next] = await world.rotateByEvent("kv-cmk-1", "adx-key");
    await waitUntil(
      () => [CONSUMERS.adxPinned, CONSUMERS.adxLatest].every((id) => versionInUse(world, id) === next),
      20_000,
      "adx-key's consumers on the new version",
    );
    // A batch job under its own user-assigned identity wraps and unwraps with the old version.
    const transport = world.sandbox.transport("uai-batch");
    const crypto = new CryptographyClient(
      `https://kv-cmk-1.vault.azure.net/keys/adx-key/${old}`,
      transport.credential,
      {
        httpClient: httpClientFor(transport),
      },
    );
    const wrapped = await crypto.wrapKey("RSA-OAEP", randomBytes(32));
    await crypto.unwrapKey("RSA-OAEP", wrapped.result);

    let used: Awaited<ReturnType<EngineWorld["holdsOf"]>>[number] | undefined;
    await world.timerUntil(async () => {
      used = (await world.holdsOf(ADX_KEY, old)).find((hold) => hold.reason === "used-recently");
      return used !== undefined;
    }, 30_000);
    expect(used?.message).toContain(
      "user-assigned identity uai-batch (66666666-0000-0000-0000-000000000001)",
    );
    const view = await world.keyView("kv-cmk-1", "adx-key");
    const version = view.versions.find((candidate) => candidate.version === old);
    expect(version?.callers).toContainEqual(
      expect.objectContaining({
        caller: "66666666-0000-0000-0000-000000000001",
        name: "user-assigned identity uai-batch",
      }),
    );
  });
});

describe("i: the Managed HSM cap of 100 versions", () => {
  let world: EngineWorld;

  beforeAll(async () => {
    world = await EngineWorld.start({
      quietPeriod: "PT6S",
      ingestionMargin: "PT5S",
      estate: (estate) => {
        const hsm = estate.vaults.find((vault) => vault.name === "hsm-cmk-1");
        const key = hsm?.keys.find((candidate) => candidate.name === "cosmos-hsm-key");
        if (!key) throw new Error("the default estate has no cosmos-hsm-key");
        // 99 versions, the oldest 99 days old.
        key.versions = Array.from({ length: 99 }, (_, index) => ({ ageHours: (99 - index) * 24 }));
      },
    });
  });

  afterAll(async () => {
    await world?.close();
  });

  it("warns in the plan and on the dashboard, and refuses the emergency rotation that would pass 100 with a 409", async () => {
    const near = await world.keyView("hsm-cmk-1", "cosmos-hsm-key");
    expect(near.warnings).toEqual([expect.objectContaining({ reason: "hsm-version-cap-near" })]);
    expect(near.warnings[0]?.message).toContain("has 99 of the at most 100 versions");
    expect(await world.dashboardPage()).toContain('data-reason="hsm-version-cap-near"');

    const hundredth = await world.rotate("hsm-cmk-1", "cosmos-hsm-key", { reason: "scenario i" });
    expect(hundredth.status).toBe(202);
    expect(world.versions("hsm-cmk-1", "cosmos-hsm-key")).toHaveLength(100);

    // Past the cooldown or not ("force"), a 101st version is refused before anything is created.
    const refused = await world.rotate("hsm-cmk-1", "cosmos-hsm-key", { reason: "one more", force: true });
    expect(refused.status).toBe(409);
    const error = (
      refused.body as { error: { code: string; message: string; versions: number; cap: number } }
    ).error;
    expect(error).toMatchObject({ code: "ManagedHsmVersionCap", versions: 100, cap: 100 });
    expect(error.message).toContain("Managed HSM keeps at most 100 versions");
    expect(world.versions("hsm-cmk-1", "cosmos-hsm-key")).toHaveLength(100);
    await waitUntil(async () => {
      const full = await world.keyView("hsm-cmk-1", "cosmos-hsm-key");
      return full.warnings[0]?.message.includes("has reached the Managed HSM cap of 100 versions") ?? false;
    }, 20_000);
  });
});
