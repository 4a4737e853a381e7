/**
 * Event Grid: the Key Vault event data comes from the stored KeyVault.json; the event
 * envelopes and the publish call come from Event Grid's own data-plane spec
 * (EventGrid.json 2018-01-01, `PublishEvents` and `EventGridEvent`) and CloudEvents 1.0,
 * which are not stored under azure-specs, so their few fields are written out here.
 */
import { Ajv2019 } from "ajv/dist/2019.js";
import addFormatsImport from "ajv-formats";
import { formatErrors } from "./validateExchange.js";

const addFormats = addFormatsImport.default;

export const EVENT_GRID_PUBLISH_API_VERSION = "2018-01-01";

/** EventGrid.json 2018-01-01 `EventGridEvent`: all properties listed, so closed. */
const eventGridEventSchema = {
  type: "object",
  properties: {
    id: { type: "string" },
    topic: { type: "string" },
    subject: { type: "string" },
    data: {},
    eventType: { type: "string" },
    eventTime: { type: "string", format: "date-time" },
    metadataVersion: { type: "string" },
    dataVersion: { type: "string" },
  },
  required: ["id", "subject", "data", "eventType", "eventTime", "dataVersion"],
  additionalProperties: false,
};

/** CloudEvents 1.0 JSON format: required context attributes; extensions are lower-case alphanumeric. */
const cloudEventSchema = {
  type: "object",
  properties: {
    id: { type: "string", minLength: 1 },
    source: { type: "string", minLength: 1 },
    specversion: { const: "1.0" },
    type: { type: "string", minLength: 1 },
    time: { type: "string", format: "date-time" },
    subject: { type: "string" },
    datacontenttype: { type: "string" },
    dataschema: { type: "string" },
    data: {},
    data_base64: { type: "string" },
  },
  required: ["id", "source", "specversion", "type"],
  patternProperties: { "^[a-z0-9]+$": {} },
  additionalProperties: false,
};

const ajv = new Ajv2019({ strict: false, allErrors: true });
addFormats(ajv);
const validateEventGridEvent = ajv.compile(eventGridEventSchema);
const validateCloudEvent = ajv.compile(cloudEventSchema);

export function eventGridEventProblems(event: unknown): string[] {
  return validateEventGridEvent(event)
    ? []
    : [`EventGridEvent: ${formatErrors(validateEventGridEvent.errors)}`];
}

export function cloudEventProblems(event: unknown): string[] {
  return validateCloudEvent(event) ? [] : [`CloudEvent: ${formatErrors(validateCloudEvent.errors)}`];
}

/** KeyVault.json definition for each Key Vault key event type. */
export const KEY_VAULT_EVENT_DATA_DEFINITIONS: Record<string, string> = {
  "Microsoft.KeyVault.KeyNewVersionCreated": "KeyVaultKeyNewVersionCreatedEventData",
  "Microsoft.KeyVault.KeyNearExpiry": "KeyVaultKeyNearExpiryEventData",
  "Microsoft.KeyVault.KeyExpired": "KeyVaultKeyExpiredEventData",
  "Microsoft.KeyVault.SecretNewVersionCreated": "KeyVaultSecretNewVersionCreatedEventData",
};
