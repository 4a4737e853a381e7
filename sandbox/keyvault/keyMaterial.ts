/**
 * RSA key material for sandbox key versions, and the wrap/unwrap algorithms Key Vault
 * offers for RSA keys. Generating RSA keys is slow (3072 bits: hundreds of ms), so
 * generated pairs are kept in a module-level pool per size and handed out again to
 * later stores; within one store every version still gets its own pair.
 */
import { constants, generateKeyPairSync, type KeyObject, privateDecrypt, publicEncrypt } from "node:crypto";
import type { SandboxStore } from "../store.js";

export interface RsaKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const pool = new Map<number, RsaKeyPair[]>();
const handedOut = new WeakMap<SandboxStore, Map<number, number>>();

/** A key pair of `size` bits that no other version of this store uses. */
export function allocateRsaKeyPair(store: SandboxStore, size: number): RsaKeyPair {
  let counters = handedOut.get(store);
  if (!counters) {
    counters = new Map();
    handedOut.set(store, counters);
  }
  const index = counters.get(size) ?? 0;
  counters.set(size, index + 1);
  let pairs = pool.get(size);
  if (!pairs) {
    pairs = [];
    pool.set(size, pairs);
  }
  let pair = pairs[index];
  if (!pair) {
    pair = generateKeyPairSync("rsa", { modulusLength: size, publicExponent: 0x10001 });
    pairs[index] = pair;
  }
  return pair;
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

export function rsaWrap(publicKey: KeyObject, algorithm: WrapAlgorithm, plaintext: Buffer): Buffer {
  return publicEncrypt({ key: publicKey, ...paddingOf(algorithm) }, plaintext);
}

/** Throws when `wrapped` was not produced with this key and algorithm. */
export function rsaUnwrap(privateKey: KeyObject, algorithm: WrapAlgorithm, wrapped: Buffer): Buffer {
  return privateDecrypt({ key: privateKey, ...paddingOf(algorithm) }, wrapped);
}

/** The public half as JSON Web Key members `n` and `e` (base64url). */
export function publicJwk(publicKey: KeyObject): { n: string; e: string } {
  const jwk = publicKey.export({ format: "jwk" });
  return { n: String(jwk.n), e: String(jwk.e) };
}
