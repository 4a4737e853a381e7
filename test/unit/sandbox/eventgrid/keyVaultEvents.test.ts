import { EventGridDeserializer } from "@azure/eventgrid";
import { describe, expect, it } from "vitest";
import {
  KEY_VAULT_EVENT_TYPES,
  keyVaultEvent,
  subscriptionValidationEvent,
  toCloudEvent,
  toEventGridSchema,
} from "../../../../sandbox/eventgrid/keyVaultEvents.js";
import { key, keyVersion, START, vault } from "./sandboxBuilders.js";

const version = keyVersion({ nbf: START, exp: START + 90 * 24 * 3600 * 1000 });
const kv = vault("kv1", [key("adx-key", [version])]);

describe("Key Vault system events", () => {
  it("carry the KeyVault.json data fields in the service's PascalCase, NBF/EXP in epoch seconds", () => {
    const event = keyVaultEvent(kv, "adx-key", version, KEY_VAULT_EVENT_TYPES.newVersionCreated, START);
    expect(event.subject).toBe("adx-key");
    expect(event.topic).toBe(kv.resourceId);
    expect(event.data).toEqual({
      Id: `https://kv1.vault.azure.net/keys/adx-key/${version.version}`,
      VaultName: "kv1",
      ObjectType: "Key",
      ObjectName: "adx-key",
      Version: version.version,
      NBF: START / 1000,
      EXP: (START + 90 * 24 * 3600 * 1000) / 1000,
    });
  });

  it("leave NBF and EXP out when the version has none", () => {
    const plain = keyVersion();
    const event = keyVaultEvent(
      vault("kv1", [key("k", [plain])]),
      "k",
      plain,
      KEY_VAULT_EVENT_TYPES.expired,
      START,
    );
    expect(Object.keys(event.data)).toEqual(["Id", "VaultName", "ObjectType", "ObjectName", "Version"]);
  });

  it("serialise in the Event Grid schema so that EventGridDeserializer reads them", async () => {
    const event = keyVaultEvent(kv, "adx-key", version, KEY_VAULT_EVENT_TYPES.newVersionCreated, START);
    const wire = toEventGridSchema(event);
    expect(wire).toMatchObject({
      eventTime: "2026-01-01T00:00:00.000Z",
      dataVersion: "1",
      metadataVersion: "1",
    });
    const [parsed] = await new EventGridDeserializer().deserializeEventGridEvents(JSON.stringify([wire]));
    expect(parsed?.eventType).toBe("Microsoft.KeyVault.KeyNewVersionCreated");
    expect(parsed?.topic).toBe(kv.resourceId);
    expect(parsed?.data).toEqual(event.data);
  });

  it("serialise as CloudEvents 1.0 with the topic as source", async () => {
    const event = keyVaultEvent(kv, "adx-key", version, KEY_VAULT_EVENT_TYPES.nearExpiry, START);
    const wire = toCloudEvent(event);
    expect(wire).toEqual({
      id: event.id,
      source: kv.resourceId,
      specversion: "1.0",
      type: "Microsoft.KeyVault.KeyNearExpiry",
      subject: "adx-key",
      time: "2026-01-01T00:00:00.000Z",
      data: event.data,
    });
    const [parsed] = await new EventGridDeserializer().deserializeCloudEvents(JSON.stringify(wire));
    expect(parsed?.type).toBe("Microsoft.KeyVault.KeyNearExpiry");
    expect(parsed?.data).toEqual(event.data);
  });

  it("build the SubscriptionValidationEvent with its code and a validation URL", () => {
    const event = subscriptionValidationEvent(kv.resourceId, "kv1-sub-1", "code-1", START);
    expect(event.eventType).toBe("Microsoft.EventGrid.SubscriptionValidationEvent");
    expect(event.data.validationCode).toBe("code-1");
    expect(String(event.data.validationUrl)).toMatch(
      /^https:\/\/.*\/eventsubscriptions\/kv1-sub-1\/validate\?id=code-1/,
    );
  });
});
