import { randomBytes } from "node:crypto";
import { CryptographyClient, type KeyClient } from "@azure/keyvault-keys";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Estate } from "../../../../sandbox/estate.js";
import type { SandboxAuditRecord } from "../../../../sandbox/model.js";
import { defaultEstate } from "../../../../sandbox/seed.js";
import type { RunningSandbox } from "../../../../sandbox/server.js";
import { createAzureClientFactory } from "../../../../src/azure/clientFactory.js";
import { httpClientFor } from "../../../../src/azure/transport.js";
import { startQuietSandbox } from "../quietSandbox.js";
import { rawRequest } from "./sandboxHttp.js";

const VAULT_URL = "https://kv-cmk-1.vault.azure.net";
const HSM_URL = "https://hsm-cmk-1.managedhsm.azure.net";
let sandbox: RunningSandbox;
let keys: KeyClient;

function keysAs(identity: string, vaultUrl = VAULT_URL): KeyClient {
  return createAzureClientFactory(sandbox.transport(identity)).keys(vaultUrl);
}

/** The default estate plus "key-officer", a Key Vault Crypto Officer on kv-cmk-1 (rotation policies). */
function estateWithKeyOfficer(): Estate {
  const estate = defaultEstate();
  estate.identities.push({ name: "key-officer", objectId: "66666666-0000-0000-0000-000000000001" });
  estate.roleAssignments.push({
    principal: "key-officer",
    role: "Key Vault Crypto Officer",
    scope: "vault:kv-cmk-1",
  });
  return estate;
}

function auditSince(count: number): SandboxAuditRecord[] {
  return sandbox.store.audit.slice(count);
}

beforeAll(async () => {
  sandbox = await startQuietSandbox({ estate: estateWithKeyOfficer() });
  keys = keysAs("rotator");
});
afterAll(async () => {
  await sandbox?.close();
});
beforeEach(() => {
  sandbox.store.faults = [];
});

describe("Key Vault data plane through the real KeyClient", () => {
  it("gets the newest version of a seeded key with its attributes", async () => {
    const key = await keys.getKey("adx-key");
    const seeded = sandbox.store.vaults.get("kv-cmk-1")?.keys.get("adx-key");
    expect(key.properties.version).toBe(seeded?.versions.at(-1)?.version);
    expect(key.id).toBe(`${VAULT_URL}/keys/adx-key/${key.properties.version}`);
    expect(key.keyType).toBe("RSA");
    expect(key.key?.n?.length).toBe(256);
    expect(key.properties.enabled).toBe(true);
    expect(key.properties.recoveryLevel).toBe("Recoverable");
    expect(key.properties.recoverableDays).toBe(90);
    expect(key.properties.createdOn?.getTime()).toBe(
      Math.floor((seeded?.versions.at(-1)?.created ?? 0) / 1000) * 1000,
    );
  });

  it("lists versions across pages with nextLink", async () => {
    for (let i = 0; i < 3; i += 1) await keys.rotateKey("cassandra-backup-key");
    const pages: number[] = [];
    const ids: string[] = [];
    for await (const page of keys
      .listPropertiesOfKeyVersions("cassandra-backup-key")
      .byPage({ maxPageSize: 2 })) {
      pages.push(page.length);
      ids.push(...page.map((properties) => properties.version ?? ""));
    }
    expect(pages).toEqual([2, 2]);
    expect(ids).toEqual(
      sandbox.store.vaults
        .get("kv-cmk-1")
        ?.keys.get("cassandra-backup-key")
        ?.versions.map((v) => v.version),
    );
  });

  it("lists keys", async () => {
    const names: string[] = [];
    for await (const properties of keys.listPropertiesOfKeys()) names.push(properties.name);
    expect(names).toEqual(expect.arrayContaining(["adx-key", "cosmos-key", "cassandra-backup-key"]));
  });

  it("creates, rotates and announces new versions", async () => {
    const announced: string[] = [];
    sandbox.store.events.on("keyVersionCreated", (event) =>
      announced.push(`${event.keyName}/${event.version}`),
    );
    const created = await keys.createRsaKey("fresh-key", { keySize: 2048, tags: { purpose: "test" } });
    const rotated = await keys.rotateKey("fresh-key");
    expect(rotated.properties.version).not.toBe(created.properties.version);
    expect(rotated.properties.tags).toEqual({ purpose: "test" });
    expect(announced).toEqual([
      `fresh-key/${created.properties.version}`,
      `fresh-key/${rotated.properties.version}`,
    ]);
  });

  it("updates enabled, tags and expiry of a version, and refuses get on the disabled version", async () => {
    const key = await keys.createRsaKey("update-key");
    const version = key.properties.version ?? "";
    const expiresOn = new Date(Date.UTC(2030, 0, 1));
    const updated = await keys.updateKeyProperties("update-key", version, {
      enabled: false,
      tags: { "cmk-rotator-disabled-by": "test" },
      expiresOn,
    });
    expect(updated.properties.enabled).toBe(false);
    expect(updated.properties.tags).toEqual({ "cmk-rotator-disabled-by": "test" });
    expect(updated.properties.expiresOn).toEqual(expiresOn);
    await expect(keys.getKey("update-key", { version })).rejects.toMatchObject({
      statusCode: 403,
      code: "Forbidden",
      message: "Operation get is not allowed on a disabled key.",
    });
  });

  it("sets and gets a rotation policy", async () => {
    const officer = keysAs("key-officer");
    await officer.createRsaKey("policy-key");
    await expect(keys.getKeyRotationPolicy("policy-key")).rejects.toMatchObject({ statusCode: 403 });
    const initial = await officer.getKeyRotationPolicy("policy-key");
    expect(initial.id).toBeUndefined();
    const set = await officer.updateKeyRotationPolicy("policy-key", {
      expiresIn: "P2Y",
      lifetimeActions: [{ action: "Rotate", timeAfterCreate: "P90D" }],
    });
    expect(set.id).toBe(`${VAULT_URL}/keys/policy-key/rotationpolicy`);
    const read = await officer.getKeyRotationPolicy("policy-key");
    expect(read.expiresIn).toBe("P2Y");
    expect(read.lifetimeActions).toEqual([{ action: "Rotate", timeAfterCreate: "P90D" }]);
    expect(read.createdOn).toBeInstanceOf(Date);
  });

  it.each(["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"] as const)(
    "wraps and unwraps with %s via CryptographyClient",
    async (algorithm) => {
      const transport = sandbox.transport("uai-adx-1");
      const key = await keys.getKey("adx-key");
      const crypto = new CryptographyClient(key.id ?? "", transport.credential, {
        httpClient: httpClientFor(transport),
      });
      const contentKey = randomBytes(32);
      const wrapped = await crypto.wrapKey(algorithm, contentKey);
      const before = sandbox.store.audit.length;
      const unwrapped = await crypto.unwrapKey(algorithm, wrapped.result);
      expect(Buffer.from(unwrapped.result).equals(contentKey)).toBe(true);
      expect(
        auditSince(before).map((record) => [record.operationName, record.id, record.httpStatusCode]),
      ).toContainEqual(["KeyUnwrap", key.id, 200]);
    },
  );

  it("answers an unwrap with a disabled version with Key Vault's 403 KeyDisabled, audited without the key id", async () => {
    const officer = keysAs("key-officer");
    const key = await officer.createRsaKey("disabled-unwrap-key");
    const version = key.properties.version ?? "";
    const transport = sandbox.transport("key-officer");
    const crypto = new CryptographyClient(key.id ?? "", transport.credential, {
      httpClient: httpClientFor(transport),
    });
    const wrapped = await crypto.wrapKey("RSA-OAEP", randomBytes(32));
    await officer.updateKeyProperties("disabled-unwrap-key", version, { enabled: false });
    const before = sandbox.store.audit.length;
    const error = await crypto.unwrapKey("RSA-OAEP", wrapped.result).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      statusCode: 403,
      code: "Forbidden",
      message: "Operation unwrapKey is not allowed on a disabled key.",
    });
    expect((error as { details?: unknown }).details).toMatchObject({
      error: { innerError: { code: "KeyDisabled" } },
    });
    const [record] = auditSince(before).filter((each) => each.operationName === "KeyUnwrap");
    expect(record).toMatchObject({
      httpStatusCode: 403,
      resultType: "Failure",
      resultSignature: "Forbidden",
      requestUri: `${VAULT_URL}/keys/disabled-unwrap-key/${version}/unwrapkey?api-version=2025-07-01`,
    });
  });

  it("keeps at most 100 versions of a Managed HSM key: the 101st create or rotate is refused", async () => {
    const hsm = keysAs("rotator", HSM_URL);
    const key = sandbox.store.vaults.get("hsm-cmk-1")?.keys.get("cosmos-hsm-key");
    const template = key?.versions[0];
    if (!key || !template) throw new Error("no HSM key");
    while (key.versions.length < 100) {
      key.versions.push({ ...template, version: randomBytes(16).toString("hex") });
    }
    await expect(hsm.rotateKey("cosmos-hsm-key")).rejects.toMatchObject({
      statusCode: 400,
      code: "BadParameter",
    });
    await expect(hsm.createRsaKey("cosmos-hsm-key", { hsm: true, keySize: 3072 })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/most a Managed HSM keeps for one key \(100\).*Activity ID/),
    });
    expect(key.versions).toHaveLength(100);
    // A vault has no such limit.
    const vaultKey = sandbox.store.vaults.get("kv-cmk-1")?.keys.get("cassandra-backup-key");
    const vaultTemplate = vaultKey?.versions[0];
    if (!vaultKey || !vaultTemplate) throw new Error("no vault key");
    while (vaultKey.versions.length < 100) {
      vaultKey.versions.push({ ...vaultTemplate, version: randomBytes(16).toString("hex") });
    }
    await expect(keys.rotateKey("cassandra-backup-key")).resolves.toMatchObject({
      name: "cassandra-backup-key",
    });
  });

  it("gives each version its own key: a value wrapped under one version does not unwrap under another", async () => {
    const transport = sandbox.transport("uai-adx-1");
    const [older, newer] = sandbox.store.vaults.get("kv-cmk-1")?.keys.get("adx-key")?.versions ?? [];
    if (!older || !newer) throw new Error("adx-key needs two versions in the default estate");
    const cryptoFor = (version: string) =>
      new CryptographyClient(`${VAULT_URL}/keys/adx-key/${version}`, transport.credential, {
        httpClient: httpClientFor(transport),
      });
    const olderKey = await keys.getKey("adx-key", { version: older.version });
    const newerKey = await keys.getKey("adx-key", { version: newer.version });
    expect(olderKey.key?.n).not.toEqual(newerKey.key?.n);
    const contentKey = randomBytes(32);
    const wrapped = await cryptoFor(older.version).wrapKey("RSA-OAEP-256", contentKey);
    await expect(cryptoFor(newer.version).unwrapKey("RSA-OAEP-256", wrapped.result)).rejects.toMatchObject({
      statusCode: 400,
      code: "BadParameter",
    });
    const unwrapped = await cryptoFor(older.version).unwrapKey("RSA-OAEP-256", wrapped.result);
    expect(Buffer.from(unwrapped.result).equals(contentKey)).toBe(true);
  });

  it("answers 401 with the challenge the SDK expects, and audits it", async () => {
    const before = sandbox.store.audit.length;
    const response = await rawRequest(sandbox, "GET", `${VAULT_URL}/keys/adx-key?api-version=2025-07-01`);
    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toBe(
      `Bearer authorization="https://login.microsoftonline.com/${sandbox.store.tenantId}", resource="https://vault.azure.net"`,
    );
    expect(auditSince(before).map((record) => [record.operationName, record.httpStatusCode])).toEqual([
      ["Authentication", 401],
    ]);
    const hsm = await rawRequest(sandbox, "GET", `${HSM_URL}/keys/cosmos-hsm-key?api-version=2025-07-01`);
    expect(hsm.headers["www-authenticate"]).toContain('resource="https://managedhsm.azure.net"');
  });

  it("refuses an unknown api-version as Key Vault does", async () => {
    const response = await rawRequest(sandbox, "GET", `${VAULT_URL}/keys?api-version=1999-01-01`);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: "BadParameter" } });
  });

  it("answers 403 ForbiddenByRbac to an identity without data rights", async () => {
    await expect(keysAs("operator").getKey("adx-key")).rejects.toMatchObject({
      statusCode: 403,
      code: "Forbidden",
    });
    const record = sandbox.store.audit.at(-1);
    expect(record).toMatchObject({ operationName: "KeyGet", httpStatusCode: 403, resultType: "Failure" });
  });

  it("lets a consumer identity get and unwrap only its own key", async () => {
    const consumer = keysAs("uai-adx-1");
    await expect(consumer.getKey("adx-key")).resolves.toMatchObject({ name: "adx-key" });
    await expect(consumer.getKey("cosmos-key")).rejects.toMatchObject({ statusCode: 403 });
    await expect(consumer.rotateKey("adx-key")).rejects.toMatchObject({ statusCode: 403 });
  });

  it("answers 404 KeyNotFound for an unknown key or version", async () => {
    await expect(keys.getKey("no-such-key")).rejects.toMatchObject({ statusCode: 404, code: "KeyNotFound" });
    await expect(keys.getKey("adx-key", { version: "0".repeat(32) })).rejects.toMatchObject({
      statusCode: 404,
      code: "KeyNotFound",
    });
  });

  it("serves Managed HSM keys as RSA-HSM with HSM data actions", async () => {
    const hsm = keysAs("rotator", HSM_URL);
    const key = await hsm.getKey("cosmos-hsm-key");
    expect(key.keyType).toBe("RSA-HSM");
    expect(key.key?.n?.length).toBe(384);
    await expect(keysAs("uai-adx-1", HSM_URL).getKey("cosmos-hsm-key")).rejects.toMatchObject({
      statusCode: 403,
    });
    expect(sandbox.store.audit.at(-1)).toMatchObject({ vaultKind: "managedHsm", operationName: "KeyGet" });
  });

  it("never deletes a key", async () => {
    await expect(keys.beginDeleteKey("adx-key")).rejects.toMatchObject({ statusCode: 403 });
    expect(sandbox.store.vaults.get("kv-cmk-1")?.keys.has("adx-key")).toBe(true);
  });

  it("audits calls with operation name, versioned id, caller and status", async () => {
    const before = sandbox.store.audit.length;
    const key = await keys.getKey("cosmos-key");
    const [record] = auditSince(before);
    expect(record).toMatchObject({
      operationName: "KeyGet",
      id: key.id,
      callerObjectId: "11111111-1111-1111-1111-111111111111",
      callerIpAddress: "127.0.0.1",
      httpStatusCode: 200,
      resultType: "Success",
      resultSignature: "OK",
      vault: "kv-cmk-1",
      vaultKind: "vault",
    });
  });
});

describe("faults through the real KeyClient", () => {
  it("retries a 429 with Retry-After and succeeds", async () => {
    sandbox.store.faults.push({
      id: "throttle",
      method: "GET",
      host: "kv-cmk-1.vault.azure.net",
      path: "^/keys/adx-key",
      action: { kind: "status", status: 429, retryAfterSeconds: 0 },
      remaining: 1,
    });
    sandbox.store.recording = [];
    await expect(keys.getKey("adx-key")).resolves.toMatchObject({ name: "adx-key" });
    const statuses = sandbox.store.recording.map((exchange) => exchange.status);
    sandbox.store.recording = undefined;
    expect(statuses).toContain(429);
    expect(statuses.at(-1)).toBe(200);
  });

  it("retries a dropped connection", async () => {
    sandbox.store.faults.push({
      id: "drop",
      method: "GET",
      host: "*.vault.azure.net",
      path: "^/keys/cosmos-key",
      action: { kind: "drop" },
      remaining: 1,
    });
    await expect(keys.getKey("cosmos-key")).resolves.toMatchObject({ name: "cosmos-key" });
    expect(sandbox.store.faults).toHaveLength(0);
  });
});
