import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { issueLeafCertificate, loadOrCreateCa, sandboxHostNames } from "../../../../sandbox/tls.js";

const stateDirs: string[] = [];
function freshStateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sandbox-tls-"));
  stateDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of stateDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("sandbox certificates", () => {
  it("creates the CA once and reuses it from the state folder", () => {
    const stateDir = freshStateDir();
    const first = loadOrCreateCa(stateDir);
    const second = loadOrCreateCa(stateDir);
    expect(second.certPem).toBe(first.certPem);
    expect(first.certFile).toBe(join(stateDir, "ca.pem"));
    expect(new X509Certificate(first.certPem).ca).toBe(true);
  });

  it("issues a leaf for the Azure hosts, the estate's topics and regions, and loopback, signed by the CA", () => {
    const ca = loadOrCreateCa(freshStateDir());
    const hosts = sandboxHostNames({
      customTopicHosts: ["Topic-A.westeurope-1.eventgrid.azure.net"],
      regions: ["westeurope", "East US"],
    });
    const leaf = new X509Certificate(issueLeafCertificate(ca, hosts).certPem);
    expect(leaf.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    for (const host of [
      "kv-cmk-1.vault.azure.net",
      "hsm-cmk-1.managedhsm.azure.net",
      "management.azure.com",
      "api.loganalytics.io",
      "topic-a.westeurope-1.eventgrid.azure.net",
      "other.eastus-1.eventgrid.azure.net",
      "localhost",
    ]) {
      expect(leaf.checkHost(host), host).toBeDefined();
    }
    expect(leaf.checkHost("example.com")).toBeUndefined();
    expect(leaf.checkIP("127.0.0.1")).toBe("127.0.0.1");
  });
});
