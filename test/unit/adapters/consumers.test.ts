/**
 * The same cases for every consumer kind, over fakes of each adapter's narrow client: read
 * pins, in-use version and identity, odd payloads; and for the kinds that can be pinned
 * (Kusto, Cassandra): begin repoint, 409 → pending, busy → pending, 429 with Retry-After →
 * pending, validation error → failed, identity preserved. Cosmos DB is a follower: its pin
 * always follows the latest version and it is never patched.
 */
import { describe, expect, it } from "vitest";
import { cassandraConsumerFacts, createCassandraAdapter } from "../../../src/adapters/consumers/cassandra.js";
import type {
  ConsumerAdapter,
  RowExpansionOptions,
} from "../../../src/adapters/consumers/consumerAdapter.js";
import { cosmosConsumerFacts, createCosmosAdapter } from "../../../src/adapters/consumers/cosmos.js";
import { createKustoAdapter, kustoConsumerFacts } from "../../../src/adapters/consumers/kusto.js";
import { AzureCallError, ValidationError } from "../../../src/errors.js";
import { COSMOS_FIRST_PARTY_APP_ID, type PinName } from "../../../src/model.js";

const SUB = "00000000-0000-0000-0000-000000000001";
const RG = `/subscriptions/${SUB}/resourceGroups/rg1/providers`;
const VAULT = "https://kv1.vault.azure.net/";
const V1 = "11111111111111111111111111111111";
const V2 = "22222222222222222222222222222222";
const V3 = "33333333333333333333333333333333";
/** The versions the repoints below may replace: V1, older than the target V2. */
const GUARD = { replaceable: new Set([V1]) };
const UAI = `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai1`;

function restError(statusCode: number, code: string, retryAfter?: string): Error {
  const headers = new Map(retryAfter ? [["retry-after", retryAfter]] : []);
  return Object.assign(new Error(`${code} message`), {
    statusCode,
    code,
    response: { headers: { get: (name: string) => headers.get(name) } },
  });
}

/** One harness per kind: its adapter over a fake, the resource id, a pin, and a way to break the payload. */
interface Harness {
  adapter: ConsumerAdapter;
  id: string;
  pin: PinName;
  expectedIdentity: string;
  /** The identity's object id, as audit records name the caller. */
  expectedPrincipalId: string;
  /** The version the pin reports: V1, or null for a follower. */
  expectedPinVersion: string | null;
  patches: unknown[];
  state: { provisioningState: string; failPatchWith?: Error; oddPayload?: boolean };
  /** Changes the pinned version behind the adapter's back (another run, an operator). */
  setPinned(version: string): void;
  /** The pinned version as the fake resource holds it now. */
  pinnedVersion(): string | undefined;
}

function kustoHarness(): Harness {
  const state: Harness["state"] = { provisioningState: "Succeeded" };
  const patches: unknown[] = [];
  let keyVersion = V1;
  let writes = 0;
  const adapter = createKustoAdapter(() => ({
    async get() {
      return {
        etag: `"etag-${writes}"`,
        provisioningState: state.provisioningState,
        identity: {
          type: "UserAssigned",
          userAssignedIdentities: { [UAI]: { principalId: "44444444-4444-4444-4444-44444444444A" } },
        },
        keyVaultProperties: state.oddPayload
          ? "not-an-object"
          : { keyVaultUri: VAULT, keyName: "key1", keyVersion, userIdentity: UAI },
      };
    },
    async beginUpdate(_rg, _name, parameters, options) {
      if (state.failPatchWith) throw state.failPatchWith;
      options?.onResponse?.({ status: 202 });
      patches.push({ ...parameters, ifMatch: options?.ifMatch });
      keyVersion = parameters.keyVaultProperties?.keyVersion ?? keyVersion;
      writes++;
    },
  }));
  return {
    adapter,
    id: `${RG}/Microsoft.Kusto/clusters/adx1`,
    pin: "key",
    expectedIdentity: UAI,
    expectedPrincipalId: "44444444-4444-4444-4444-44444444444a",
    expectedPinVersion: V1,
    patches,
    state,
    pinnedVersion: () => keyVersion,
    setPinned: (version) => {
      keyVersion = version;
      writes++;
    },
  };
}

function cosmosHarness(): Harness {
  const state: Harness["state"] = { provisioningState: "Succeeded" };
  // Even a legacy versioned URI: the account uses whatever keyVaultKeyUriVersion says.
  const uri = `${VAULT}keys/key1/${V1}`;
  const adapter = createCosmosAdapter(() => ({
    async get() {
      return {
        provisioningState: state.provisioningState,
        keyVaultKeyUri: state.oddPayload ? 42 : uri,
        keyVaultKeyUriVersion: V2,
        defaultIdentity: `UserAssignedIdentity=${UAI}`,
        // ARM ids are case-insensitive: the identity block may spell the id differently.
        identity: {
          type: "UserAssigned",
          userAssignedIdentities: {
            [UAI.toUpperCase()]: { principalId: "55555555-5555-5555-5555-555555555555" },
          },
        },
        customerManagedKeyStatus: "Access to the configured customer managed key confirmed.",
        backupPolicy: { type: "Continuous", continuousModeProperties: { tier: "Continuous7Days" } },
      };
    },
    async beginUpdate() {
      throw new Error("a repoint never patches a Cosmos DB account");
    },
  }));
  return {
    adapter,
    id: `${RG}/Microsoft.DocumentDB/databaseAccounts/cosmos1`,
    pin: "key",
    expectedIdentity: UAI,
    expectedPrincipalId: "55555555-5555-5555-5555-555555555555",
    expectedPinVersion: null,
    patches: [],
    state,
    pinnedVersion: () => undefined,
    // A follower pins nothing.
    setPinned: () => undefined,
  };
}

function cassandraHarness(): Harness {
  const state: Harness["state"] = { provisioningState: "Succeeded" };
  const patches: unknown[] = [];
  const properties: Record<string, string> = {
    managedDiskCustomerKeyUri: `${VAULT}keys/key1/${V1}`,
    backupStorageCustomerKeyUri: `${VAULT}keys/key1/${V1}`,
  };
  const id = `${RG}/Microsoft.DocumentDB/cassandraClusters/cass1/dataCenters/dc1`;
  const adapter = createCassandraAdapter(() => ({
    async getCluster() {
      return { identity: { type: "SystemAssigned", principalId: "33333333-3333-3333-3333-333333333333" } };
    },
    async *listDataCenters() {
      yield { id, properties };
    },
    async getDataCenter() {
      return state.oddPayload
        ? { id }
        : { id, properties: { ...properties, provisioningState: state.provisioningState } };
    },
    async beginUpdateDataCenter(_rg, _cluster, _dc, body) {
      if (state.failPatchWith) throw state.failPatchWith;
      patches.push(body);
      Object.assign(properties, body.properties);
    },
  }));
  return {
    adapter,
    id,
    pin: "managedDisk",
    expectedIdentity: "33333333-3333-3333-3333-333333333333",
    expectedPrincipalId: "33333333-3333-3333-3333-333333333333",
    expectedPinVersion: V1,
    patches,
    state,
    pinnedVersion: () => properties.managedDiskCustomerKeyUri?.split("/").at(-1),
    setPinned: (version) => {
      properties.managedDiskCustomerKeyUri = `${VAULT}keys/key1/${version}`;
    },
  };
}

describe.each([
  ["kusto", kustoHarness],
  ["cosmos", cosmosHarness],
  ["cassandra", cassandraHarness],
] as const)("%s adapter", (kind, makeHarness) => {
  it("reads the pin, the identity and the provisioning state", async () => {
    const h = makeHarness();
    const snapshot = await h.adapter.read(h.id);
    expect(snapshot.kind).toBe(kind);
    expect(snapshot.subscriptionId).toBe(SUB);
    expect(snapshot.identity).toBe(h.expectedIdentity);
    expect(snapshot.identityPrincipalId).toBe(h.expectedPrincipalId);
    expect(snapshot.provisioningState).toBe("Succeeded");
    const pin = snapshot.pins.find((candidate) => candidate.pin === h.pin);
    expect(pin?.version).toBe(h.expectedPinVersion);
    expect(pin?.key).toMatchObject({ vaultName: "kv1", keyName: "key1" });
  });

  it("an odd payload is a ValidationError naming the consumer", async () => {
    const h = makeHarness();
    h.state.oddPayload = true;
    const error = await h.adapter.read(h.id).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toContain(h.id);
  });

  it("refuses an id of another resource type", async () => {
    const h = makeHarness();
    await expect(h.adapter.read(`${RG}/Microsoft.Storage/storageAccounts/sa1`)).rejects.toThrow(
      ValidationError,
    );
  });
});

describe.each([
  ["kusto", kustoHarness],
  ["cassandra", cassandraHarness],
] as const)("%s adapter (pinned consumers)", (_kind, makeHarness) => {
  it("begins a repoint and the next read shows the new version", async () => {
    const h = makeHarness();
    const outcome = await h.adapter.beginRepoint(await h.adapter.read(h.id), h.pin, V2, GUARD);
    expect(outcome.status).toBe("done");
    expect(h.patches).toHaveLength(1);
    const after = await h.adapter.read(h.id);
    expect(after.pins.find((candidate) => candidate.pin === h.pin)?.version).toBe(V2);
    expect(h.pinnedVersion()).toBe(V2);
  });

  it("re-reads right before the write and never moves a consumer that moved past the plan", async () => {
    const h = makeHarness();
    const observed = await h.adapter.read(h.id);
    h.setPinned(V3);
    const outcome = await h.adapter.beginRepoint(observed, h.pin, V2, GUARD);
    expect(outcome.status).toBe("pending");
    expect(outcome.status === "pending" && outcome.detail).toContain(`now pins version ${V3}`);
    expect(h.patches).toHaveLength(0);
    expect(h.pinnedVersion()).toBe(V3);
  });

  it("does not send a PATCH when the consumer reached the target meanwhile", async () => {
    const h = makeHarness();
    const observed = await h.adapter.read(h.id);
    h.setPinned(V2);
    expect((await h.adapter.beginRepoint(observed, h.pin, V2, GUARD)).status).toBe("pending");
    expect(h.patches).toHaveLength(0);
  });

  it("a 412 (the consumer changed after the read) is pending", async () => {
    const h = makeHarness();
    h.state.failPatchWith = restError(412, "PreconditionFailed");
    const outcome = await h.adapter.beginRepoint(await h.adapter.read(h.id), h.pin, V2, GUARD);
    expect(outcome.status).toBe("pending");
    expect(outcome.status === "pending" && outcome.detail).toContain("changed after it was read");
  });

  it("does not send a PATCH while the resource is updating", async () => {
    const h = makeHarness();
    h.state.provisioningState = "Updating";
    const outcome = await h.adapter.beginRepoint(await h.adapter.read(h.id), h.pin, V2, GUARD);
    expect(outcome.status).toBe("pending");
    expect(h.patches).toHaveLength(0);
  });

  it("a 409 conflict is pending", async () => {
    const h = makeHarness();
    h.state.failPatchWith = restError(409, "Conflict");
    expect((await h.adapter.beginRepoint(await h.adapter.read(h.id), h.pin, V2, GUARD)).status).toBe(
      "pending",
    );
  });

  it("a 429 the SDK gave up on is pending with Retry-After", async () => {
    const h = makeHarness();
    h.state.failPatchWith = restError(429, "TooManyRequests", "7");
    expect(await h.adapter.beginRepoint(await h.adapter.read(h.id), h.pin, V2, GUARD)).toMatchObject({
      status: "pending",
      retryAfterMs: 7000,
    });
  });

  it("a validation error from the resource provider fails with its code and message", async () => {
    const h = makeHarness();
    h.state.failPatchWith = restError(400, "KeyVaultNotPurgeProtected");
    const outcome = await h.adapter.beginRepoint(await h.adapter.read(h.id), h.pin, V2, GUARD);
    expect(outcome).toMatchObject({ status: "failed", reason: "KeyVaultNotPurgeProtected" });
    expect(outcome.status === "failed" && outcome.detail).toContain("KeyVaultNotPurgeProtected message");
  });

  it("refuses a target that is not a version", async () => {
    const h = makeHarness();
    const outcome = await h.adapter.beginRepoint(await h.adapter.read(h.id), h.pin, "latest", GUARD);
    expect(outcome.status).toBe("failed");
    expect(h.patches).toHaveLength(0);
  });
});

describe("kind specifics", () => {
  it("Kusto keeps keyVaultUri, keyName and the user identity in the PATCH", async () => {
    const h = kustoHarness();
    await h.adapter.beginRepoint(await h.adapter.read(h.id), "key", V2, GUARD);
    expect(h.patches[0]).toEqual({
      keyVaultProperties: { keyVaultUri: VAULT, keyName: "key1", keyVersion: V2, userIdentity: UAI },
      ifMatch: '"etag-0"',
    });
  });

  it("Kusto sends If-Match with the etag of the read right before the write, not the observation's", async () => {
    const h = kustoHarness();
    const observed = await h.adapter.read(h.id);
    expect(observed.etag).toBe('"etag-0"');
    h.setPinned(V1);
    await h.adapter.beginRepoint(observed, "key", V2, GUARD);
    expect(h.patches[0]).toMatchObject({ ifMatch: '"etag-1"' });
  });

  it("Cosmos reports the version in use from keyVaultKeyUriVersion, key status and backup retention", async () => {
    const h = cosmosHarness();
    const snapshot = await h.adapter.read(h.id);
    expect(snapshot.inUse).toEqual({ key: V2 });
    expect(snapshot.keyStatus).toContain("confirmed");
    expect(snapshot.backupRetention).toEqual({
      retentionMs: 7 * 24 * 3_600_000,
      description: "Continuous7Days continuous backup",
    });
  });

  it("Cosmos is never repointed: a request to is refused and nothing is sent", async () => {
    const h = cosmosHarness();
    const outcome = await h.adapter.beginRepoint(await h.adapter.read(h.id), "key", V2, GUARD);
    expect(outcome).toMatchObject({ status: "failed", reason: "follows-latest" });
  });

  it("Cassandra has two pins per data center and PATCHes only the one repointed", async () => {
    const h = cassandraHarness();
    const snapshot = await h.adapter.read(h.id);
    expect(snapshot.pins.map((pin) => pin.pin)).toEqual(["managedDisk", "backupStorage"]);
    await h.adapter.beginRepoint(snapshot, "backupStorage", V2, GUARD);
    expect(h.patches[0]).toEqual({ properties: { backupStorageCustomerKeyUri: `${VAULT}keys/key1/${V2}` } });
  });

  it("Cassandra discovery expands a cluster row into its data centers", async () => {
    const h = cassandraHarness();
    const candidates = await h.adapter.candidatesFromRow({
      id: `${RG}/Microsoft.DocumentDB/cassandraClusters/cass1`,
      type: "microsoft.documentdb/cassandraclusters",
      subscriptionId: SUB,
      properties: {},
    });
    expect(candidates).toEqual([
      expect.objectContaining({
        id: h.id,
        kind: "cassandra",
        keys: [expect.objectContaining({ version: V1 }), expect.objectContaining({ version: V1 })],
      }),
    ]);
  });

  it("Cassandra discovery takes each data center's facts from the list and the cluster row: no GET of either", async () => {
    const gets: string[] = [];
    const dataCenter = (name: string) => ({
      id: `${RG}/Microsoft.DocumentDB/cassandraClusters/cass1/dataCenters/${name}`,
      properties: { managedDiskCustomerKeyUri: `${VAULT}keys/key1/${V1}`, provisioningState: "Succeeded" },
    });
    const adapter = createCassandraAdapter(() => ({
      async getCluster() {
        gets.push("cluster");
        return {};
      },
      async *listDataCenters() {
        yield dataCenter("dc1");
        yield dataCenter("dc2");
      },
      async getDataCenter() {
        gets.push("dataCenter");
        return {};
      },
      beginUpdateDataCenter: async () => undefined,
    }));
    const candidates = await adapter.candidatesFromRow({
      id: `${RG}/Microsoft.DocumentDB/cassandraClusters/cass1`,
      type: "microsoft.documentdb/cassandraclusters",
      subscriptionId: SUB,
      properties: { deallocated: true },
      identity: { type: "SystemAssigned", principalId: "33333333-3333-3333-3333-333333333333" },
    });
    expect(gets).toEqual([]);
    expect(candidates.map((candidate) => candidate.facts)).toEqual([
      expect.objectContaining({
        id: dataCenter("dc1").id,
        readFrom: "resource-graph",
        runState: "Deallocated",
        identityPrincipalId: "33333333-3333-3333-3333-333333333333",
        pins: [expect.objectContaining({ pin: "managedDisk", version: V1 })],
      }),
      expect.objectContaining({ id: dataCenter("dc2").id, readFrom: "resource-graph" }),
    ]);
  });

  it("Cassandra listings are reused only younger than the max age, and never after a write to or a fresh read of the cluster", async () => {
    let lists = 0;
    let pinned = V1;
    let now = 1_000_000;
    const clusterId = `${RG}/Microsoft.DocumentDB/cassandraClusters/cass1`;
    const dcId = `${clusterId}/dataCenters/dc1`;
    const dataCenter = () => ({
      id: dcId,
      properties: {
        managedDiskCustomerKeyUri: `${VAULT}keys/key1/${pinned}`,
        provisioningState: "Succeeded",
      },
    });
    const adapter = createCassandraAdapter(
      () => ({
        getCluster: async () => ({}),
        async *listDataCenters() {
          lists += 1;
          yield dataCenter();
        },
        getDataCenter: async () => dataCenter(),
        beginUpdateDataCenter: async () => undefined,
      }),
      { now: () => new Date(now) },
    );
    const row = {
      id: clusterId,
      type: "microsoft.documentdb/cassandraclusters",
      subscriptionId: SUB,
      properties: {},
    };
    const reused: Date[] = [];
    const options = { listingMaxAgeMs: 60_000, reused: (at: Date) => reused.push(at) };
    const versionSeen = async (expansion: RowExpansionOptions = options) =>
      (await adapter.candidatesFromRow(row, expansion))[0]?.keys[0]?.version;

    expect(await versionSeen()).toBe(V1);
    expect(lists).toBe(1);
    // Re-pinned by someone else: a listing younger than the max age still says V1, and says it is reused.
    pinned = V2;
    now += 30_000;
    expect(await versionSeen()).toBe(V1);
    expect(lists).toBe(1);
    expect(reused).toEqual([new Date(1_000_000)]);
    // Without a max age (every run but the timer's, and a plan that would disable): listed afresh.
    expect(await versionSeen({ reused: options.reused })).toBe(V2);
    expect(lists).toBe(2);
    // Older than the max age: listed afresh.
    pinned = V1;
    now += 60_000;
    expect(await versionSeen()).toBe(V1);
    expect(lists).toBe(3);
    // A fresh read of one of its data centers (a decision needed it) makes the next run list again.
    pinned = V2;
    await adapter.read(dcId);
    expect(await versionSeen()).toBe(V2);
    expect(lists).toBe(4);
    // So does the service's own write.
    pinned = V1;
    const [candidate] = await adapter.candidatesFromRow(row, options);
    expect(lists).toBe(4);
    if (!candidate?.facts) throw new Error("no facts for the data center");
    await adapter.beginRepoint(candidate.facts, "managedDisk", V2, {
      replaceable: new Set([V1.toLowerCase()]),
    });
    pinned = V2;
    expect(await versionSeen()).toBe(V2);
    expect(reused).toHaveLength(2);
  });

  it("Cassandra data centers of one cluster read at the same time share one GET of the cluster", async () => {
    let clusterGets = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const adapter = createCassandraAdapter(() => ({
      async getCluster() {
        clusterGets += 1;
        await gate;
        return { identity: { principalId: "33333333-3333-3333-3333-333333333333" } };
      },
      async *listDataCenters() {},
      async getDataCenter(_rg, _cluster, name) {
        return { id: name, properties: { managedDiskCustomerKeyUri: `${VAULT}keys/key1/${V1}` } };
      },
      beginUpdateDataCenter: async () => undefined,
    }));
    const ids = ["dc1", "dc2", "dc3"].map(
      (dc) => `${RG}/Microsoft.DocumentDB/cassandraClusters/cass1/dataCenters/${dc}`,
    );
    const reads = Promise.all(ids.map((id) => adapter.read(id)));
    release();
    const snapshots = await reads;
    expect(clusterGets).toBe(1);
    expect(
      snapshots.every((snapshot) => snapshot.identityPrincipalId === "33333333-3333-3333-3333-333333333333"),
    ).toBe(true);
    // A read after those settled reads the cluster afresh.
    await adapter.read(ids[0] as string);
    expect(clusterGets).toBe(2);
  });

  it("Kusto and Cosmos DB candidates carry their facts from the row; a row whose facts are odd carries none (then a GET decides)", async () => {
    const kusto = createKustoAdapter(() => ({ get: async () => ({}), beginUpdate: async () => undefined }));
    const row = {
      id: `${RG}/Microsoft.Kusto/clusters/adx1`,
      type: "microsoft.kusto/clusters",
      subscriptionId: SUB,
      properties: {
        state: "Stopped",
        keyVaultProperties: { keyVaultUri: VAULT, keyName: "key1", keyVersion: V1 },
      },
      identity: { type: "SystemAssigned", principalId: "22222222-2222-2222-2222-222222222222" },
    };
    const [candidate] = await kusto.candidatesFromRow(row);
    expect(candidate?.facts).toMatchObject({ readFrom: "resource-graph", runState: "Stopped" });
    const [odd] = await kusto.candidatesFromRow({ ...row, properties: { ...row.properties, state: 3 } });
    expect(odd?.keys).toHaveLength(1);
    expect(odd?.facts).toBeUndefined();
    const cosmos = createCosmosAdapter(() => ({
      get: async () => ({}),
      beginUpdate: async () => {
        throw new Error("a row is never written");
      },
    }));
    const [account] = await cosmos.candidatesFromRow({
      id: `${RG}/Microsoft.DocumentDB/databaseAccounts/c1`,
      type: "microsoft.documentdb/databaseaccounts",
      subscriptionId: SUB,
      properties: { keyVaultKeyUri: `${VAULT}keys/key1`, keyVaultKeyUriVersion: V1 },
    });
    expect(account?.facts).toMatchObject({ readFrom: "resource-graph", inUse: { key: V1 } });
  });

  it("a versionless Cosmos key URI follows the latest version", async () => {
    const adapter = createCosmosAdapter(() => ({
      get: async () => ({
        keyVaultKeyUri: `${VAULT}keys/key1`,
        backupPolicy: { type: "Periodic", periodicModeProperties: { backupRetentionIntervalInHours: 48 } },
      }),
      beginUpdate: async () => undefined,
    }));
    const snapshot = await adapter.read(`${RG}/Microsoft.DocumentDB/databaseAccounts/c2`);
    expect(snapshot.pins[0]?.version).toBeNull();
    expect(snapshot.backupRetention?.retentionMs).toBe(48 * 3_600_000);
  });

  it("Kusto reads its run state and every principal from the cluster's JSON, from a GET or a Resource Graph row alike", async () => {
    const body = {
      state: "Stopped",
      provisioningState: "Succeeded",
      keyVaultProperties: { keyVaultUri: VAULT, keyName: "key1", keyVersion: "" },
      identity: {
        type: "SystemAssigned, UserAssigned",
        principalId: "66666666-6666-6666-6666-66666666666A",
        userAssignedIdentities: { [UAI]: { principalId: "77777777-7777-7777-7777-777777777777" } },
      },
    };
    const id = `${RG}/Microsoft.Kusto/clusters/adx2`;
    const fromGet = await createKustoAdapter(() => ({
      get: async () => body,
      beginUpdate: async () => undefined,
    })).read(id);
    const { identity, ...properties } = body;
    const fromRow = kustoConsumerFacts({ id, subscriptionId: SUB, properties, identity }, "row");
    for (const facts of [fromGet, fromRow]) {
      expect(facts).toMatchObject({
        runState: "Stopped",
        pins: [{ pin: "key", version: null }],
        identityPrincipalId: "66666666-6666-6666-6666-66666666666a",
        principalIds: ["66666666-6666-6666-6666-66666666666a", "77777777-7777-7777-7777-777777777777"],
      });
    }
  });

  it("Kusto with a state that is not a string is an odd payload", async () => {
    const adapter = createKustoAdapter(() => ({
      get: async () => ({ state: 3, keyVaultProperties: { keyVaultUri: VAULT, keyName: "key1" } }),
      beginUpdate: async () => undefined,
    }));
    await expect(adapter.read(`${RG}/Microsoft.Kusto/clusters/adx3`)).rejects.toThrow(/field "state"/);
  });

  it("a FirstPartyIdentity Cosmos DB account unwraps as the Azure Cosmos DB application, named by app id", async () => {
    const facts = cosmosConsumerFacts(
      {
        id: `${RG}/Microsoft.DocumentDB/databaseAccounts/fp`,
        subscriptionId: SUB,
        properties: { keyVaultKeyUri: `${VAULT}keys/key1`, defaultIdentity: "FirstPartyIdentity" },
        identity: { type: "SystemAssigned", principalId: "88888888-8888-8888-8888-888888888888" },
      },
      "row",
    );
    expect(facts.identityAppId).toBe(COSMOS_FIRST_PARTY_APP_ID);
    expect(facts.identityPrincipalId).toBeUndefined();
    expect(facts.principalIds).toEqual(["88888888-8888-8888-8888-888888888888"]);
    expect(() =>
      cosmosConsumerFacts(
        {
          id: `${RG}/Microsoft.DocumentDB/databaseAccounts/odd`,
          subscriptionId: SUB,
          properties: { keyVaultKeyUri: `${VAULT}keys/key1`, defaultIdentity: "Somebody" },
          identity: null,
        },
        "Cosmos DB account odd",
      ),
    ).toThrow(/defaultIdentity "Somebody"/);
  });

  it("a Cassandra data center of a deallocated cluster is Deallocated; a deallocated flag that is no boolean is odd", async () => {
    const id = `${RG}/Microsoft.DocumentDB/cassandraClusters/cass1/dataCenters/dc1`;
    const dataCenter = { properties: { managedDiskCustomerKeyUri: `${VAULT}keys/key1/${V1}` } };
    const cluster = (deallocated: unknown) => ({
      properties: { deallocated },
      identity: { principalId: "33333333-3333-3333-3333-333333333333" },
    });
    expect(
      cassandraConsumerFacts({ id, subscriptionId: SUB, dataCenter, cluster: cluster(true) }, "dc"),
    ).toMatchObject({
      runState: "Deallocated",
      identityPrincipalId: "33333333-3333-3333-3333-333333333333",
    });
    expect(
      cassandraConsumerFacts({ id, subscriptionId: SUB, dataCenter, cluster: cluster(false) }, "dc").runState,
    ).toBe("Running");
    expect(() =>
      cassandraConsumerFacts({ id, subscriptionId: SUB, dataCenter, cluster: cluster("yes") }, "dc"),
    ).toThrow(/field "deallocated"/);
  });

  it("a failed GET is an AzureCallError naming the consumer", async () => {
    const adapter = createKustoAdapter(() => ({
      get: async () => {
        throw restError(404, "ResourceNotFound");
      },
      beginUpdate: async () => undefined,
    }));
    const error = await adapter
      .read(`${RG}/Microsoft.Kusto/clusters/gone`)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AzureCallError);
    expect((error as Error).message).toContain("clusters/gone");
  });
});
