/**
 * The one Azure Table the service keeps its own records in: the journal, the per-key leases
 * and the idempotency records, told apart by partition key. Production reaches it through
 * an endpoint and the managed identity; local runs and tests through an Azurite connection
 * string.
 */
import type { TokenCredential } from "@azure/core-auth";
import { RestError, TableClient } from "@azure/data-tables";
import type { AdditionalPolicyConfig } from "../azure/pipelinePolicies.js";

export interface RotatorTableLocation {
  /** `https://<account>.table.core.windows.net`, used with the service's credential. */
  endpoint?: string;
  /** An Azure Storage connection string (Azurite in local runs and tests). */
  connectionString?: string;
  tableName: string;
}

export interface RotatorTable {
  readonly client: TableClient;
  /** Creates the table on first use; safe to call often. */
  ready(): Promise<void>;
}

/**
 * `credential` is needed only for an endpoint; a connection string carries its own key.
 * `policies` are the service's pipeline policies (clientFactory.ts), so table requests are
 * counted like every other Azure request.
 */
export function openRotatorTable(
  location: RotatorTableLocation,
  credential?: TokenCredential,
  policies: AdditionalPolicyConfig[] = [],
): RotatorTable {
  let client: TableClient;
  if (location.connectionString) {
    const insecure = /DefaultEndpointsProtocol=http;|TableEndpoint=http:\/\//i.test(
      location.connectionString,
    );
    client = TableClient.fromConnectionString(location.connectionString, location.tableName, {
      allowInsecureConnection: insecure,
      additionalPolicies: policies,
    });
  } else if (location.endpoint) {
    if (!credential)
      throw new Error(`the journal table ${location.endpoint} needs a credential (the managed identity)`);
    client = new TableClient(location.endpoint, location.tableName, credential, {
      additionalPolicies: policies,
    });
  } else {
    throw new Error(
      "the journal table has no location: set ROTATOR_JOURNAL_TABLE_ENDPOINT or ROTATOR_JOURNAL_CONNECTION_STRING",
    );
  }
  let creation: Promise<void> | undefined;
  return {
    client,
    ready() {
      creation ??= client.createTable().catch((error: unknown) => {
        creation = undefined;
        throw error;
      });
      return creation;
    },
  };
}

/**
 * Partition and row keys may not contain `/`, `\`, `#`, `?` or control characters. Key ids
 * ("vault/key") and consumer ids (ARM ids) do, so they are escaped reversibly.
 */
const FORBIDDEN_IN_TABLE_KEYS = new Set(["%", "/", "\\", "#", "?"]);

function needsEscape(char: string): boolean {
  const code = char.charCodeAt(0);
  return FORBIDDEN_IN_TABLE_KEYS.has(char) || code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

export function toTableKey(value: string): string {
  return Array.from(value, (char) =>
    needsEscape(char) ? `%${char.charCodeAt(0).toString(16).padStart(2, "0")}` : char,
  ).join("");
}

export function fromTableKey(value: string): string {
  return value.replace(/%([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

export function isStatus(error: unknown, status: number): boolean {
  return error instanceof RestError && error.statusCode === status;
}
