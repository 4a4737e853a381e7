import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  allocateRsaKeyMaterial,
  primeIndicesOf,
  rsaUnwrap,
  rsaWrap,
} from "../../../../sandbox/keyvault/keyMaterial.js";
import { SandboxStore } from "../../../../sandbox/store.js";

describe("pooled RSA key material", () => {
  it("enumerates every pair of distinct prime indices once, in order", () => {
    const seen = new Set<string>();
    for (let index = 0; index < 2_000; index++) {
      const [a, b] = primeIndicesOf(index);
      expect(a).toBeGreaterThanOrEqual(0);
      expect(a).toBeLessThan(b);
      seen.add(`${a},${b}`);
    }
    expect(seen.size).toBe(2_000);
    // 2,000 pairs need 64 primes: (0,1) … (k-2, k-1) fill the triangle below k.
    expect(primeIndicesOf(0)).toEqual([0, 1]);
    expect(primeIndicesOf(1)).toEqual([0, 2]);
    expect(primeIndicesOf(2)).toEqual([1, 2]);
    expect(primeIndicesOf(1_999)).toEqual([46, 63]);
  });

  it("derives a version's pair only when it is first needed", () => {
    const material = allocateRsaKeyMaterial(new SandboxStore(), 2048);
    expect(material.derived).toBe(false);
    const pair = material.pair();
    expect(material.derived).toBe(true);
    expect(material.pair()).toBe(pair);
    expect(pair.publicKey.asymmetricKeyDetails).toMatchObject({
      modulusLength: 2048,
      publicExponent: 65537n,
    });
  });

  it("gives every version of a store its own modulus, so one version's ciphertext does not unwrap under another", () => {
    const store = new SandboxStore();
    const versions = Array.from({ length: 6 }, () => allocateRsaKeyMaterial(store, 2048));
    const moduli = versions.map((material) => material.pair().publicKey.export({ format: "jwk" }).n);
    expect(new Set(moduli).size).toBe(versions.length);
    const contentKey = randomBytes(32);
    for (const algorithm of ["RSA-OAEP", "RSA-OAEP-256"] as const) {
      const [first, second] = versions;
      if (!first || !second) throw new Error("no versions");
      const wrapped = rsaWrap(first, algorithm, contentKey);
      expect(rsaUnwrap(first, algorithm, wrapped).equals(contentKey)).toBe(true);
      expect(() => rsaUnwrap(second, algorithm, wrapped)).toThrow();
    }
  });

  it("hands the same material to the same version number of another store (the pool is shared)", () => {
    const first = allocateRsaKeyMaterial(new SandboxStore(), 2048);
    const again = allocateRsaKeyMaterial(new SandboxStore(), 2048);
    expect(again.pair().publicKey.export({ format: "jwk" }).n).toBe(
      first.pair().publicKey.export({ format: "jwk" }).n,
    );
  });
});
