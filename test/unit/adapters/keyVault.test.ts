import { describe, expect, it } from "vitest";
import { parseKeyId } from "../../../src/adapters/keyRef.js";
import { createKeyVaultAdapter, modulusBits } from "../../../src/adapters/keyVault.js";
import { AzureCallError } from "../../../src/errors.js";
import { FakeKeyClient, restError, versionId } from "./fakeKeyClient.js";

const VAULT = "https://kv1.vault.azure.net/";
const KEY = parseKeyId(`${VAULT}keys/key1`).key;
const HSM_KEY = parseKeyId("https://hsm1.managedhsm.azure.net/keys/key1").key;

function adapterWith(versions: ConstructorParameters<typeof FakeKeyClient>[2]) {
  const client = new FakeKeyClient(VAULT, "key1", versions);
  return { client, adapter: createKeyVaultAdapter(() => client) };
}

describe("Key Vault adapter", () => {
  it("lists versions oldest first with type, size and ops for enabled versions only", async () => {
    const { client, adapter } = adapterWith([{ enabled: false }, { bits: 3072 }]);
    const versions = await adapter.listVersions(KEY);
    expect(versions.map((v) => [v.version, v.enabled, v.keyType, v.keySize])).toEqual([
      [versionId(1), false, "unknown", undefined],
      [versionId(2), true, "RSA", 3072],
    ]);
    expect(versions[1]?.kid).toBe(`${VAULT}keys/key1/${versionId(2)}`);
    expect(versions[1]?.keyOps).toEqual(["wrapKey", "unwrapKey"]);
    // One list and one get per enabled version: disabled material cannot be read anyway.
    expect(client.calls).toEqual(["listVersions", `getKey ${versionId(2)}`]);
  });

  it("readKey is a get of the latest version (the canary)", async () => {
    const { client, adapter } = adapterWith([{}, {}]);
    expect((await adapter.readKey(KEY)).version).toBe(versionId(2));
    expect(client.calls).toEqual(["getKey latest"]);
  });

  it("createVersion rotates the key", async () => {
    const { adapter } = adapterWith([{ bits: 3072 }]);
    const created = await adapter.createVersion(KEY);
    expect(created.version).toBe(versionId(2));
    expect(created.keySize).toBe(3072);
  });

  it("disableVersion disables and merges tags into the existing ones", async () => {
    const { client, adapter } = adapterWith([{ tags: { owner: "team-a" } }, {}]);
    const outcome = await adapter.disableVersion(KEY, versionId(1).toUpperCase(), {
      "cmk-rotator-disabled-by": "rotator",
    });
    expect(outcome.status).toBe("done");
    expect(client.versions[0]).toMatchObject({
      enabled: false,
      tags: { owner: "team-a", "cmk-rotator-disabled-by": "rotator" },
    });
  });

  it("tagVersion leaves enabled as it is", async () => {
    const { client, adapter } = adapterWith([{}]);
    expect((await adapter.tagVersion(KEY, versionId(1), { a: "b" })).status).toBe("done");
    expect(client.versions[0]).toMatchObject({ enabled: true, tags: { a: "b" } });
  });

  it("a 403 fails the step naming the missing permission and the vault", async () => {
    const { client, adapter } = adapterWith([{}]);
    client.failWith = restError(403, "Forbidden");
    const outcome = await adapter.disableVersion(KEY, versionId(1), {});
    expect(outcome).toMatchObject({ status: "failed", reason: "forbidden" });
    expect(outcome.status === "failed" && outcome.detail).toContain(
      "the service identity lacks Microsoft.KeyVault/vaults/keys/update/action on kv1",
    );
  });

  it("names the Managed HSM permission for HSM keys", async () => {
    const client = new FakeKeyClient(HSM_KEY.vaultUrl, "key1", [{}]);
    client.failWith = restError(403, "Forbidden");
    const outcome = await createKeyVaultAdapter(() => client).tagVersion(HSM_KEY, versionId(1), {});
    expect(outcome.status === "failed" && outcome.detail).toContain(
      "Microsoft.KeyVault/managedHsm/keys/write/action on hsm1",
    );
  });

  it("an unknown version fails as not-found; throttling is pending", async () => {
    const { client, adapter } = adapterWith([{}]);
    expect(await adapter.disableVersion(KEY, versionId(9), {})).toMatchObject({
      status: "failed",
      reason: "not-found",
    });
    client.failWith = restError(429, "Throttled");
    expect((await adapter.disableVersion(KEY, versionId(1), {})).status).toBe("pending");
  });

  it("listVersions throws an AzureCallError naming the key and permission", async () => {
    const { client, adapter } = adapterWith([{}]);
    client.failWith = restError(403, "Forbidden");
    const error = await adapter.listVersions(KEY).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AzureCallError);
    expect((error as AzureCallError).status).toBe(403);
    expect((error as Error).message).toContain("kv1/key1");
    expect((error as Error).message).toContain("Microsoft.KeyVault/vaults/keys/read");
  });

  it("computes the modulus size in bits", () => {
    expect(modulusBits(Uint8Array.from([0, 0x80, 0, 0]))).toBe(24);
    expect(modulusBits(Uint8Array.from([0x01, 0]))).toBe(9);
    expect(modulusBits(undefined)).toBeUndefined();
  });
});
