/**
 * Key Vault and Managed HSM keys: the real KeyClient and CryptographyClient against the
 * sandbox, then every recorded exchange against keys.json (2026-04-01; the SDK sends
 * 2025-07-01).
 */
import { randomBytes } from "node:crypto";
import { CryptographyClient, type KeyClient } from "@azure/keyvault-keys";
import { beforeAll, describe, expect, it } from "vitest";
import { httpClientFor } from "../../src/azure/transport.js";
import { expectRecordingConforms, HSM_URL, useConformanceSandbox, VAULT_URL } from "./conformanceSandbox.js";

describe("Key Vault keys conformance", () => {
  const run = useConformanceSandbox();
  let keys: KeyClient;

  beforeAll(() => {
    keys = run.clients.keys(VAULT_URL);
  });

  it("drives create, get, versions, update, rotate, rotation policy and wrap/unwrap through the real clients", async () => {
    const created = await keys.createKey("conformance-key", "RSA", {
      keySize: 2048,
      tags: { purpose: "conformance" },
    });
    expect(created.properties.version).toMatch(/^[0-9a-f]{32}$/);

    const latest = await keys.getKey("conformance-key");
    expect(latest.id).toBe(created.id);
    await keys.getKey("conformance-key", { version: created.properties.version });

    const rotated = await keys.rotateKey("conformance-key");
    expect(rotated.properties.version).not.toBe(created.properties.version);

    const versions: string[] = [];
    for await (const page of keys.listPropertiesOfKeyVersions("conformance-key").byPage({ maxPageSize: 1 })) {
      for (const properties of page) versions.push(properties.version ?? "");
    }
    expect(versions.sort()).toEqual([created.properties.version, rotated.properties.version].sort());

    const updated = await keys.updateKeyProperties("conformance-key", created.properties.version!, {
      enabled: false,
      tags: { retired: "true" },
    });
    expect(updated.properties.enabled).toBe(false);

    await keys.updateKeyRotationPolicy("conformance-key", {
      expiresIn: "P90D",
      lifetimeActions: [{ action: "Notify", timeBeforeExpiry: "P30D" }],
    });
    const policy = await keys.getKeyRotationPolicy("conformance-key");
    expect(policy.expiresIn).toBe("P90D");

    const crypto = new CryptographyClient(rotated.id!, run.sandbox.transport("conformance").credential, {
      httpClient: httpClientFor(run.sandbox.transport("conformance")),
    });
    const contentKey = randomBytes(32);
    const wrapped = await crypto.wrapKey("RSA-OAEP", contentKey);
    const unwrapped = await crypto.unwrapKey("RSA-OAEP", wrapped.result);
    expect(Buffer.from(unwrapped.result).equals(contentKey)).toBe(true);

    const hsmKey = await run.clients.keys(HSM_URL).getKey("cosmos-hsm-key");
    expect(hsmKey.keyType).toBe("RSA-HSM");
  });

  it("answers errors in the KeyVaultError shape: unknown key, operation on a disabled version, no permission", async () => {
    await expect(keys.getKey("no-such-key")).rejects.toMatchObject({ statusCode: 404 });
    const disabled = await keys.createKey("conformance-disabled", "RSA", { keySize: 2048, enabled: false });
    const crypto = new CryptographyClient(disabled.id!, run.sandbox.transport("conformance").credential, {
      httpClient: httpClientFor(run.sandbox.transport("conformance")),
    });
    await expect(crypto.wrapKey("RSA-OAEP", randomBytes(32))).rejects.toMatchObject({ statusCode: 403 });
    const operatorKeys = new (keys.constructor as typeof KeyClient)(
      VAULT_URL,
      run.sandbox.transport("operator").credential,
      {
        httpClient: httpClientFor(run.sandbox.transport("operator")),
      },
    );
    await expect(operatorKeys.createKey("not-allowed", "RSA")).rejects.toMatchObject({ statusCode: 403 });
  });

  it("every recorded request and response conforms to keys.json", () => {
    expectRecordingConforms(run.exchanges(), [
      "CreateKey",
      "GetKey",
      "GetKeyVersions",
      "UpdateKey",
      "RotateKey",
      "GetKeyRotationPolicy",
      "UpdateKeyRotationPolicy",
      "wrapKey",
      "unwrapKey",
    ]);
  });
});
