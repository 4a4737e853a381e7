import { describe, expect, it } from "vitest";
import { readKeyVaultEvent } from "../../../src/keyVaultEvents.js";

const VERSION = "0123456789abcdef0123456789abcdef";
const MANAGED = ["https://kv-cmk-1.vault.azure.net/", "https://hsm-cmk-1.managedhsm.azure.net"];

function eventGridEvent(data: unknown, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "evt-1",
    topic: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-cmk-1",
    subject: "cmk-adx",
    eventType: "Microsoft.KeyVault.KeyNewVersionCreated",
    eventTime: "2026-01-01T00:00:00Z",
    dataVersion: "1",
    metadataVersion: "1",
    data,
    ...overrides,
  };
}

function keyData(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Id: `https://kv-cmk-1.vault.azure.net/keys/cmk-adx/${VERSION}`,
    VaultName: "kv-cmk-1",
    ObjectType: "Key",
    ObjectName: "cmk-adx",
    Version: VERSION,
    NBF: null,
    EXP: null,
    ...overrides,
  };
}

describe("readKeyVaultEvent", () => {
  it("reads a new key version in the Event Grid schema", () => {
    const reading = readKeyVaultEvent(eventGridEvent(keyData()), MANAGED);
    expect(reading).toMatchObject({
      kind: "keyNewVersion",
      eventId: "evt-1",
      schema: "EventGridSchema",
      version: VERSION,
      key: {
        vaultName: "kv-cmk-1",
        keyName: "cmk-adx",
        hostKind: "vault",
        vaultUrl: "https://kv-cmk-1.vault.azure.net/",
      },
    });
  });

  it("reads the CloudEvents schema with lower-case fields, stray spaces, no NBF/EXP and data as a JSON string", () => {
    const cloudEvent = {
      specversion: "1.0",
      id: "evt-2",
      source: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-cmk-1",
      type: " Microsoft.KeyVault.KeyNewVersionCreated ",
      subject: "cmk-adx",
      data: JSON.stringify({
        id: ` https://kv-cmk-1.vault.azure.net/keys/cmk-adx/${VERSION.toUpperCase()} `,
        " vaultName": "kv-cmk-1 ",
        objectType: "Key",
        version: VERSION,
      }),
    };
    const reading = readKeyVaultEvent(cloudEvent, MANAGED);
    expect(reading).toMatchObject({ kind: "keyNewVersion", schema: "CloudEventSchema", version: VERSION });
  });

  it("takes the version from data.Version when the Id is versionless", () => {
    const reading = readKeyVaultEvent(
      eventGridEvent(keyData({ Id: "https://kv-cmk-1.vault.azure.net/keys/cmk-adx" })),
      MANAGED,
    );
    expect(reading).toMatchObject({ kind: "keyNewVersion", version: VERSION });
  });

  it("reads a Managed HSM key", () => {
    const reading = readKeyVaultEvent(
      eventGridEvent(
        keyData({ Id: `https://hsm-cmk-1.managedhsm.azure.net/keys/k/${VERSION}`, VaultName: "hsm-cmk-1" }),
      ),
      MANAGED,
    );
    expect(reading).toMatchObject({ kind: "keyNewVersion", key: { hostKind: "managedHsm" } });
  });

  it.each([
    [
      "another event type",
      eventGridEvent(keyData(), { eventType: "Microsoft.KeyVault.KeyNearExpiry" }),
      "other-event-type",
    ],
    [
      "a secret",
      eventGridEvent(
        keyData({ Id: `https://kv-cmk-1.vault.azure.net/secrets/s/${VERSION}`, ObjectType: "Secret" }),
        {
          eventType: "Microsoft.KeyVault.SecretNewVersionCreated",
        },
      ),
      "other-event-type",
    ],
    [
      "a secret id under the key event type",
      eventGridEvent(
        keyData({ Id: `https://kv-cmk-1.vault.azure.net/secrets/s/${VERSION}`, ObjectType: undefined }),
      ),
      "not-a-key",
    ],
    ["a certificate object type", eventGridEvent(keyData({ ObjectType: "Certificate" })), "not-a-key"],
    [
      "an unmanaged vault",
      eventGridEvent(
        keyData({ Id: `https://kv-other.vault.azure.net/keys/k/${VERSION}`, VaultName: "kv-other" }),
      ),
      "unmanaged-vault",
    ],
    [
      "a managed vault's name on another host (a Managed HSM of the same name)",
      eventGridEvent(keyData({ Id: `https://kv-cmk-1.managedhsm.azure.net/keys/k/${VERSION}` })),
      "unmanaged-vault",
    ],
    ["a missing Id", eventGridEvent(keyData({ Id: undefined })), "malformed"],
    [
      "an Id on a foreign host",
      eventGridEvent(keyData({ Id: "https://evil.example.com/keys/k" })),
      "malformed",
    ],
    ["a VaultName that contradicts the Id", eventGridEvent(keyData({ VaultName: "kv-other" })), "malformed"],
    ["data that is not JSON", eventGridEvent("{not json"), "malformed"],
    ["no data", eventGridEvent(undefined), "malformed"],
    ["no event type", eventGridEvent(keyData(), { eventType: undefined }), "malformed"],
    ["a number", 42, "malformed"],
    ["null", null, "malformed"],
  ])("ignores %s", (_name, event, reason) => {
    const reading = readKeyVaultEvent(event, MANAGED);
    expect(reading).toMatchObject({ kind: "ignored", reason });
  });
});
