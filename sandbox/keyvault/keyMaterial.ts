/**
 * RSA key material for sandbox key versions, and the wrap/unwrap algorithms Key Vault
 * offers for RSA keys.
 *
 * Generating an RSA key pair is slow (2048 bits: tens of ms, 3072 bits: about 150 ms), and
 * an estate of 1,000 keys has thousands of versions, so the sandbox does two things:
 *
 * - **Lazily.** A version gets a handle at seed time and its key pair only when something
 *   needs it (a wrap, an unwrap, or a GET that shows the public key).
 * - **From a pool of primes.** Pairs are not generated one by one: the primes of a few
 *   generated pairs are kept per size (module-level, so later sandboxes in the same process
 *   reuse them) and every version gets its own *pair of primes* from that pool: k primes
 *   give k(k-1)/2 distinct moduli, so 1,000 versions need 46 primes (23 generated pairs)
 *   instead of 1,000 generated pairs. Deriving a key from two known primes takes about a
 *   millisecond.
 *
 * Every version still has its own modulus, hence its own public key, and ciphertext wrapped
 * under one version does not unwrap under another (the OAEP check fails), as in Key Vault.
 * Sharing primes between moduli would be a weakness for real keys (any two moduli with a
 * prime in common factor each other); the sandbox protects nothing with them.
 */
import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  privateDecrypt,
  publicEncrypt,
} from "node:crypto";
import type { SandboxStore } from "../store.js";

export interface RsaKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** The RSA key material of one key version; the pair is derived the first time it is needed. */
export interface RsaKeyMaterial {
  /** Modulus size in bits. */
  readonly size: number;
  pair(): RsaKeyPair;
  /** Whether the pair has been derived yet (for the benchmark and tests). */
  readonly derived: boolean;
}

const PUBLIC_EXPONENT = 65537n;

/** Primes harvested from generated key pairs, per modulus size, in the order they were made. */
const primePools = new Map<number, bigint[]>();
const handedOut = new WeakMap<SandboxStore, Map<number, number>>();

function fromBase64Url(value: string | undefined): bigint {
  if (!value) throw new Error("a generated RSA key exported no prime factors");
  return BigInt(`0x${Buffer.from(value, "base64url").toString("hex")}`);
}

function toBase64Url(value: bigint): string {
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, "hex").toString("base64url");
}

function bitLength(value: bigint): number {
  return value.toString(2).length;
}

/** The prime of `size`-bit keys at `index`, generating pairs (two primes each) until it exists. */
function poolPrime(size: number, index: number): bigint {
  let pool = primePools.get(size);
  if (!pool) {
    pool = [];
    primePools.set(size, pool);
  }
  while (pool.length <= index) {
    const jwk = generateKeyPairSync("rsa", { modulusLength: size, publicExponent: 65537 }).privateKey.export({
      format: "jwk",
    });
    pool.push(fromBase64Url(jwk.p), fromBase64Url(jwk.q));
  }
  return pool[index] as bigint;
}

/** The `index`-th pair (a, b) with a < b, in the order (0,1), (0,2), (1,2), (0,3), … */
export function primeIndicesOf(index: number): [number, number] {
  let b = Math.floor((1 + Math.sqrt(1 + 8 * index)) / 2);
  while ((b * (b - 1)) / 2 > index) b -= 1;
  while (((b + 1) * b) / 2 <= index) b += 1;
  return [index - (b * (b - 1)) / 2, b];
}

function modInverse(value: bigint, modulus: bigint): bigint {
  let [oldR, r] = [value % modulus, modulus];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const quotient = oldR / r;
    [oldR, r] = [r, oldR - quotient * r];
    [oldS, s] = [s, oldS - quotient * s];
  }
  if (oldR !== 1n) throw new Error("no modular inverse");
  return ((oldS % modulus) + modulus) % modulus;
}

function gcd(a: bigint, b: bigint): bigint {
  let [x, y] = [a, b];
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

/** The key pair with modulus p·q and exponent 65537, or undefined when these primes do not make a `size`-bit key. */
function pairFromPrimes(size: number, first: bigint, second: bigint): RsaKeyPair | undefined {
  const [p, q] = first > second ? [first, second] : [second, first];
  const n = p * q;
  if (p === q || bitLength(n) !== size) return undefined;
  const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
  if (gcd(PUBLIC_EXPONENT, lambda) !== 1n) return undefined;
  const d = modInverse(PUBLIC_EXPONENT, lambda);
  const privateKey = createPrivateKey({
    format: "jwk",
    key: {
      kty: "RSA",
      n: toBase64Url(n),
      e: toBase64Url(PUBLIC_EXPONENT),
      d: toBase64Url(d),
      p: toBase64Url(p),
      q: toBase64Url(q),
      dp: toBase64Url(d % (p - 1n)),
      dq: toBase64Url(d % (q - 1n)),
      qi: toBase64Url(modInverse(q, p)),
    },
  });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** The key pair of material number `index` of `size`-bit keys (the same index gives the same pair). */
export function pooledRsaKeyPair(size: number, index: number): RsaKeyPair {
  const [a, b] = primeIndicesOf(index);
  const pair = pairFromPrimes(size, poolPrime(size, a), poolPrime(size, b));
  // Odd sizes can make a product one bit short: such a version gets a pair of its own.
  return pair ?? generateKeyPairSync("rsa", { modulusLength: size, publicExponent: 65537 });
}

/** How many primes of each size the pool holds (the benchmark reports it). */
export function primePoolSizes(): Record<number, number> {
  return Object.fromEntries([...primePools].map(([size, primes]) => [size, primes.length]));
}

/** Key material of `size` bits that no other version of this store uses; derived on first use. */
export function allocateRsaKeyMaterial(store: SandboxStore, size: number): RsaKeyMaterial {
  let counters = handedOut.get(store);
  if (!counters) {
    counters = new Map();
    handedOut.set(store, counters);
  }
  const index = counters.get(size) ?? 0;
  counters.set(size, index + 1);
  let pair: RsaKeyPair | undefined;
  return {
    size,
    pair: () => {
      pair ??= pooledRsaKeyPair(size, index);
      return pair;
    },
    get derived() {
      return pair !== undefined;
    },
  };
}

/** Material around an existing pair (tests that build versions by hand). */
export function fixedRsaKeyMaterial(pair: RsaKeyPair): RsaKeyMaterial {
  const size = pair.publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  return { size, pair: () => pair, derived: true };
}

export const wrapAlgorithms = ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"] as const;
export type WrapAlgorithm = (typeof wrapAlgorithms)[number];

export function isWrapAlgorithm(value: unknown): value is WrapAlgorithm {
  return typeof value === "string" && (wrapAlgorithms as readonly string[]).includes(value);
}

function paddingOf(algorithm: WrapAlgorithm): { padding: number; oaepHash?: string } {
  switch (algorithm) {
    case "RSA-OAEP":
      return { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" };
    case "RSA-OAEP-256":
      return { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" };
    case "RSA1_5":
      return { padding: constants.RSA_PKCS1_PADDING };
  }
}

export function rsaWrap(material: RsaKeyMaterial, algorithm: WrapAlgorithm, plaintext: Buffer): Buffer {
  return publicEncrypt({ key: material.pair().publicKey, ...paddingOf(algorithm) }, plaintext);
}

/** Throws when `wrapped` was not produced with this key and algorithm. */
export function rsaUnwrap(material: RsaKeyMaterial, algorithm: WrapAlgorithm, wrapped: Buffer): Buffer {
  return privateDecrypt({ key: material.pair().privateKey, ...paddingOf(algorithm) }, wrapped);
}

/** The public half as JSON Web Key members `n` and `e` (base64url). */
export function publicJwk(material: RsaKeyMaterial): { n: string; e: string } {
  const jwk = material.pair().publicKey.export({ format: "jwk" });
  return { n: String(jwk.n), e: String(jwk.e) };
}
