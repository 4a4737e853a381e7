import { describe, expect, it } from "vitest";
import {
  keyIdOf,
  keyRefFromParts,
  parseKeyId,
  parseVaultUrl,
  tryParseKeyId,
  validateVersion,
} from "../../../src/adapters/keyRef.js";
import { ValidationError } from "../../../src/errors.js";

const VERSION = "0123456789abcdef0123456789abcdef";

describe("parseKeyId", () => {
  it("parses a versioned vault key id", () => {
    expect(parseKeyId(`https://kv-cmk-1.vault.azure.net/keys/key1/${VERSION}`)).toEqual({
      key: {
        vaultUrl: "https://kv-cmk-1.vault.azure.net/",
        vaultName: "kv-cmk-1",
        hostKind: "vault",
        keyName: "key1",
      },
      version: VERSION,
    });
  });

  it("parses a versionless Managed HSM key id with a trailing slash", () => {
    expect(parseKeyId("https://hsm-cmk-1.managedhsm.azure.net/keys/hsm-key/")).toEqual({
      key: {
        vaultUrl: "https://hsm-cmk-1.managedhsm.azure.net/",
        vaultName: "hsm-cmk-1",
        hostKind: "managedHsm",
        keyName: "hsm-key",
      },
      version: null,
    });
  });

  it("normalises host and version case and trims stray spaces", () => {
    const parsed = parseKeyId(`  https://KV1.Vault.Azure.NET/keys/Key1/${VERSION.toUpperCase()} `);
    expect(parsed.key.vaultUrl).toBe("https://kv1.vault.azure.net/");
    expect(parsed.key.keyName).toBe("Key1");
    expect(parsed.version).toBe(VERSION);
  });

  it.each([
    ["http scheme", `http://kv1.vault.azure.net/keys/k/${VERSION}`, "https"],
    ["foreign host", "https://kv1.example.com/keys/k", "not on a Key Vault"],
    ["secret, not key", "https://kv1.vault.azure.net/secrets/s", "not a key identifier"],
    ["short version", "https://kv1.vault.azure.net/keys/k/abc", "32 hexadecimal"],
    ["bad key name", "https://kv1.vault.azure.net/keys/k_1", "[0-9a-zA-Z-]"],
    ["quote in key name", "https://kv1.vault.azure.net/keys/k'or'1", "[0-9a-zA-Z-]"],
    ["extra segment", `https://kv1.vault.azure.net/keys/k/${VERSION}/x`, "not a key identifier"],
    ["query string", "https://kv1.vault.azure.net/keys/k?x=1", "query"],
    ["other port", "https://kv1.vault.azure.net:8443/keys/k", "port"],
    ["not a string", 42, "must be a string"],
    ["not a URL", "kv1/keys/k", "not a URL"],
  ])("rejects %s", (_case, input, message) => {
    const result = tryParseKeyId(input, "event data.Id");
    expect(result).toBeInstanceOf(ValidationError);
    expect((result as ValidationError).message).toContain(message);
    expect((result as ValidationError).subject).toContain("event data.Id");
  });
});

describe("parseVaultUrl and keyRefFromParts", () => {
  it("accepts a vault URL with or without trailing slash", () => {
    expect(parseVaultUrl("https://kv1.vault.azure.net").vaultUrl).toBe("https://kv1.vault.azure.net/");
    expect(parseVaultUrl("https://kv1.vault.azure.net/").vaultName).toBe("kv1");
  });

  it("refuses a vault URL with a path", () => {
    expect(() => parseVaultUrl("https://kv1.vault.azure.net/keys")).toThrow(/must not have a path/);
  });

  it("builds a key from Kusto's separate vault URI and key name", () => {
    expect(keyRefFromParts("https://kv1.vault.azure.net/", "key1")).toEqual(
      parseKeyId("https://kv1.vault.azure.net/keys/key1").key,
    );
  });

  it("round-trips through keyIdOf", () => {
    const id = `https://kv1.vault.azure.net/keys/key1/${VERSION}`;
    const parsed = parseKeyId(id);
    expect(keyIdOf(parsed.key, parsed.version)).toBe(id);
    expect(keyIdOf(parsed.key)).toBe("https://kv1.vault.azure.net/keys/key1");
  });

  it("validates versions", () => {
    expect(validateVersion(VERSION.toUpperCase())).toBe(VERSION);
    expect(() => validateVersion(`${VERSION}0`)).toThrow(ValidationError);
  });
});
