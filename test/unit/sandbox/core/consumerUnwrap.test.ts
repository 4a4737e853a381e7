import { beforeEach, describe, expect, it } from "vitest";
import { consumerKeyOperation, consumerUnwrap } from "../../../../sandbox/keyvault/operations.js";
import { defaultEstate, seedStore } from "../../../../sandbox/seed.js";
import { SandboxStore } from "../../../../sandbox/store.js";

const UAI_ADX_1 = "22222222-0000-0000-0000-000000000001";
const UAI_COSMOS_1 = "33333333-0000-0000-0000-000000000001";
const UAI_COSMOS_HSM = "33333333-0000-0000-0000-000000000003";

let store: SandboxStore;

function versionsOf(vault: string, key: string) {
  return store.vaults.get(vault)?.keys.get(key)?.versions ?? [];
}

beforeEach(() => {
  store = new SandboxStore({ now: () => Date.UTC(2026, 0, 15) });
  seedStore(store, defaultEstate());
});

describe("consumerUnwrap", () => {
  it("unwraps with the version in use and audits KeyUnwrap with the versioned id", () => {
    const version = versionsOf("kv-cmk-1", "adx-key")[0]?.version ?? "";
    const result = consumerUnwrap(store, {
      callerObjectId: UAI_ADX_1,
      vault: "kv-cmk-1",
      key: "adx-key",
      version,
    });
    expect(result).toEqual({ status: 200 });
    expect(store.audit.at(-1)).toMatchObject({
      operationName: "KeyUnwrap",
      id: `https://kv-cmk-1.vault.azure.net/keys/adx-key/${version}`,
      callerObjectId: UAI_ADX_1,
      httpStatusCode: 200,
      resultType: "Success",
    });
  });

  it("is refused by RBAC for an identity without rights on that key", () => {
    const version = versionsOf("kv-cmk-1", "adx-key")[0]?.version ?? "";
    const result = consumerUnwrap(store, {
      callerObjectId: UAI_COSMOS_1,
      vault: "kv-cmk-1",
      key: "adx-key",
      version,
    });
    expect(result).toEqual({ status: 403, errorCode: "ForbiddenByRbac" });
    expect(store.audit.at(-1)).toMatchObject({ httpStatusCode: 403, resultType: "Failure" });
  });

  it("is refused for a disabled version", () => {
    const version = versionsOf("kv-cmk-1", "adx-key")[0];
    if (version) version.enabled = false;
    const result = consumerUnwrap(store, {
      callerObjectId: UAI_ADX_1,
      vault: "kv-cmk-1",
      key: "adx-key",
      version: version?.version ?? "",
    });
    expect(result).toEqual({ status: 403, errorCode: "KeyDisabled" });
  });

  it("still unwraps with an expired version, as Key Vault does for unwrap", () => {
    const version = versionsOf("kv-cmk-1", "adx-key")[0];
    if (version) version.exp = Date.UTC(2025, 0, 1);
    const result = consumerUnwrap(store, {
      callerObjectId: UAI_ADX_1,
      vault: "kv-cmk-1",
      key: "adx-key",
      version: version?.version ?? "",
    });
    expect(result.status).toBe(200);
  });

  it("answers 404 for an unknown version and works on Managed HSM keys", () => {
    expect(
      consumerUnwrap(store, {
        callerObjectId: UAI_ADX_1,
        vault: "kv-cmk-1",
        key: "adx-key",
        version: "f".repeat(32),
      }),
    ).toEqual({ status: 404, errorCode: "KeyNotFound" });
    const hsmVersion = versionsOf("hsm-cmk-1", "cosmos-hsm-key")[0]?.version ?? "";
    expect(
      consumerUnwrap(store, {
        callerObjectId: UAI_COSMOS_HSM,
        vault: "hsm-cmk-1",
        key: "cosmos-hsm-key",
        version: hsmVersion,
      }),
    ).toEqual({ status: 200 });
    expect(store.audit.at(-1)?.vaultKind).toBe("managedHsm");
  });

  it("writes the request URI and the caller's app id; a failed call is a Failure with Key Vault's status", () => {
    const version = versionsOf("kv-cmk-1", "adx-key")[0];
    consumerKeyOperation(store, {
      callerObjectId: UAI_ADX_1,
      vault: "kv-cmk-1",
      key: "adx-key",
      version: version?.version ?? "",
      operation: "wrap",
    });
    const id = `https://kv-cmk-1.vault.azure.net/keys/adx-key/${version?.version}`;
    expect(store.audit.at(-1)).toMatchObject({
      operationName: "KeyWrap",
      id,
      requestUri: `${id}/wrapkey?api-version=7.4`,
      callerAppId: store.identities.get(UAI_ADX_1)?.clientId,
    });
    if (version) version.enabled = false;
    consumerUnwrap(store, {
      callerObjectId: UAI_ADX_1,
      vault: "kv-cmk-1",
      key: "adx-key",
      version: version?.version ?? "",
    });
    expect(store.audit.at(-1)).toMatchObject({
      operationName: "KeyUnwrap",
      requestUri: `${id}/unwrapkey?api-version=7.4`,
      httpStatusCode: 403,
      resultType: "Failure",
      resultSignature: "Forbidden",
    });
  });
});
