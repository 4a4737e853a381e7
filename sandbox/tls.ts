/**
 * The sandbox's certificates. A CA is generated on first start and kept in the state
 * folder (ignored by git) so that a `caFile` handed to curl or a browser stays valid across
 * runs; a leaf certificate for every Azure host name the sandbox answers is issued at each
 * start. Key pairs come from node:crypto (fast); node-forge builds and signs the X.509.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import forge from "node-forge";

export interface SandboxCa {
  certPem: string;
  keyPem: string;
  certFile: string;
}

export interface LeafCertificate {
  certPem: string;
  keyPem: string;
}

const CA_CERT_FILE = "ca.pem";
const CA_KEY_FILE = "ca-key.pem";
const CA_SUBJECT = [
  { name: "commonName", value: "cmk-rotator sandbox CA" },
  { name: "organizationName", value: "cmk-rotator sandbox" },
];

function rsaKeyPem(): string {
  return generateKeyPairSync("rsa", { modulusLength: 2048 })
    .privateKey.export({ type: "pkcs8", format: "pem" })
    .toString();
}

function serialNumber(): string {
  // Positive (first bit clear) 16-byte serial, as RFC 5280 asks.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString("hex");
}

function forgeKeys(keyPem: string): {
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
} {
  const privateKey = forge.pki.privateKeyFromPem(keyPem);
  return { privateKey, publicKey: forge.pki.setRsaPublicKey(privateKey.n, privateKey.e) };
}

function createCa(): { certPem: string; keyPem: string } {
  const keyPem = rsaKeyPem();
  const { privateKey, publicKey } = forgeKeys(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(Date.now() - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000);
  cert.setSubject(CA_SUBJECT);
  cert.setIssuer(CA_SUBJECT);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The CA in `stateDir`, created on first use. Several processes may start at once (test
 * workers): the key file is published with an atomic link, and whoever loses the race
 * waits for the winner's certificate and uses it.
 */
export function loadOrCreateCa(stateDir: string): SandboxCa {
  mkdirSync(stateDir, { recursive: true });
  const certFile = join(stateDir, CA_CERT_FILE);
  const keyFile = join(stateDir, CA_KEY_FILE);
  const read = (): SandboxCa => ({
    certPem: readFileSync(certFile, "utf8"),
    keyPem: readFileSync(keyFile, "utf8"),
    certFile,
  });
  if (existsSync(certFile) && existsSync(keyFile)) return read();

  const ca = createCa();
  const suffix = `${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  const keyTemp = join(stateDir, `${CA_KEY_FILE}.${suffix}`);
  const certTemp = join(stateDir, `${CA_CERT_FILE}.${suffix}`);
  writeFileSync(keyTemp, ca.keyPem, { mode: 0o600 });
  writeFileSync(certTemp, ca.certPem);
  try {
    linkSync(keyTemp, keyFile);
    linkSync(certTemp, certFile);
    return { ...ca, certFile };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    for (let waited = 0; !existsSync(certFile); waited += 50) {
      if (waited > 10_000) {
        throw new Error(
          `The sandbox CA key ${keyFile} exists without ${certFile}; delete ${stateDir} and start again.`,
        );
      }
      sleepSync(50);
    }
    return read();
  } finally {
    unlinkSync(keyTemp);
    unlinkSync(certTemp);
  }
}

/** The host names the leaf certificate covers for an estate's topics and regions. */
export function sandboxHostNames(input: { customTopicHosts: string[]; regions: string[] }): string[] {
  const names = new Set([
    "*.vault.azure.net",
    "*.managedhsm.azure.net",
    "management.azure.com",
    "api.loganalytics.io",
    "localhost",
    ...input.customTopicHosts.map((host) => host.toLowerCase()),
    ...input.regions.map((region) => `*.${region.toLowerCase().replace(/\s+/g, "")}-1.eventgrid.azure.net`),
  ]);
  return [...names];
}

/** A server certificate signed by `ca` for `hostNames` and 127.0.0.1. */
export function issueLeafCertificate(ca: SandboxCa, hostNames: string[]): LeafCertificate {
  const keyPem = rsaKeyPem();
  const { publicKey } = forgeKeys(keyPem);
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(Date.now() - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  cert.setSubject([{ name: "commonName", value: "cmk-rotator sandbox" }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      altNames: [...hostNames.map((value) => ({ type: 2, value })), { type: 7, ip: "127.0.0.1" }],
    },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}
