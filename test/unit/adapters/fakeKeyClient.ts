/** An in-memory fake of the KeyClient calls the Key Vault adapter uses. */
import type { KeyProperties, KeyVaultKey } from "@azure/keyvault-keys";
import type { KeyVaultKeysClient } from "../../../src/adapters/keyVault.js";

export interface FakeVersion {
  version: string;
  enabled: boolean;
  created: Date;
  tags: Record<string, string>;
  bits: number;
}

export function restError(statusCode: number, code: string, message = code): Error {
  return Object.assign(new Error(message), { statusCode, code });
}

export function versionId(index: number): string {
  return index.toString(16).padStart(32, "0");
}

export class FakeKeyClient implements KeyVaultKeysClient {
  readonly calls: string[] = [];
  failWith: Error | undefined;
  readonly versions: FakeVersion[];

  constructor(
    readonly vaultUrl: string,
    readonly keyName: string,
    versions: Partial<FakeVersion>[],
  ) {
    this.versions = versions.map((version, index) => ({
      version: versionId(index + 1),
      enabled: true,
      created: new Date(Date.UTC(2026, 0, index + 1)),
      tags: {},
      bits: 2048,
      ...version,
    }));
  }

  private properties(version: FakeVersion): KeyProperties {
    return {
      id: `${this.vaultUrl}keys/${this.keyName}/${version.version}`,
      name: this.keyName,
      vaultUrl: this.vaultUrl,
      version: version.version,
      enabled: version.enabled,
      createdOn: version.created,
      tags: { ...version.tags },
      recoveryLevel: "Recoverable",
    };
  }

  private key(version: FakeVersion): KeyVaultKey {
    const n = new Uint8Array(version.bits / 8);
    n[0] = 0xc1;
    return {
      name: this.keyName,
      keyType: "RSA",
      keyOperations: ["wrapKey", "unwrapKey"],
      key: { kty: "RSA", n },
      properties: this.properties(version),
    };
  }

  private check(call: string): void {
    this.calls.push(call);
    if (this.failWith) throw this.failWith;
  }

  async *listPropertiesOfKeys(): AsyncIterable<KeyProperties> {
    this.check("listKeys");
    const newest = this.versions.at(-1);
    if (newest) yield this.properties(newest);
  }

  async *listPropertiesOfKeyVersions(): AsyncIterable<KeyProperties> {
    this.check("listVersions");
    for (const version of this.versions) yield this.properties(version);
  }

  async getKey(_name: string, options?: { version?: string }): Promise<KeyVaultKey> {
    this.check(`getKey ${options?.version ?? "latest"}`);
    const version = options?.version
      ? this.versions.find((v) => v.version === options.version)
      : this.versions.at(-1);
    if (!version) throw restError(404, "KeyNotFound");
    return this.key(version);
  }

  async rotateKey(): Promise<KeyVaultKey> {
    this.check("rotateKey");
    const newest = this.versions.at(-1);
    const version: FakeVersion = {
      version: versionId(this.versions.length + 1),
      enabled: true,
      created: new Date(Date.UTC(2026, 1, 1)),
      tags: {},
      bits: newest?.bits ?? 2048,
    };
    this.versions.push(version);
    return this.key(version);
  }

  async updateKeyProperties(
    _name: string,
    keyVersion: string,
    options?: { enabled?: boolean; tags?: Record<string, string> },
  ): Promise<KeyVaultKey> {
    this.check(`update ${keyVersion}`);
    const version = this.versions.find((v) => v.version === keyVersion);
    if (!version) throw restError(404, "KeyNotFound");
    if (options?.enabled !== undefined) version.enabled = options.enabled;
    if (options?.tags) version.tags = { ...options.tags };
    return this.key(version);
  }
}
