/**
 * Preflight: may consumers be pointed at this key version? A chain of small checks, each
 * returning null (passes) or a reason code and a sentence. The first failing check wins.
 */
import type { ConsumerKind, KeyRef, KeyVersionFacts, Policy, ReasonCode } from "../model.js";
import { keyRefId, TAGS } from "../model.js";

export interface Verdict {
  reason: ReasonCode;
  message: string;
}

export interface PreflightInput {
  key: KeyRef;
  version: KeyVersionFacts;
  /** Consumer kinds that use the key (pinned or following the newest). */
  consumerKinds: readonly ConsumerKind[];
  policy: Policy;
  now: Date;
}

type PreflightCheck = (input: PreflightInput) => Verdict | null;

const REQUIRED_KEY_OPS = ["wrapKey", "unwrapKey"] as const;

function describe(input: PreflightInput): string {
  return `Version ${input.version.version} of key ${keyRefId(input.key)}`;
}

export function isCompromised(version: KeyVersionFacts): boolean {
  const tag = version.tags[TAGS.compromised];
  return tag !== undefined && tag.trim().toLowerCase() !== "false";
}

/** The RSA size a version must have for every consumer kind using the key. */
export function requiredRsaBits(consumerKinds: readonly ConsumerKind[], policy: Policy): number {
  const kinds = consumerKinds.length > 0 ? consumerKinds : (Object.keys(policy.minRsaBits) as ConsumerKind[]);
  const sizes = kinds.map((kind) => policy.minRsaBits[kind]);
  return consumerKinds.length > 0 ? Math.max(...sizes) : Math.min(...sizes);
}

const enabled: PreflightCheck = (input) =>
  input.version.enabled
    ? null
    : {
        reason: "preflight-disabled",
        message: `${describe(input)} is disabled; enable it or create a new version before consumers can use it.`,
      };

const notCompromised: PreflightCheck = (input) =>
  isCompromised(input.version)
    ? {
        reason: "preflight-compromised",
        message: `${describe(input)} is tagged ${TAGS.compromised}; rotate the key to create a new version.`,
      }
    : null;

const notExpired: PreflightCheck = (input) =>
  input.version.expiresOn && input.version.expiresOn.getTime() <= input.now.getTime()
    ? {
        reason: "preflight-expired",
        message: `${describe(input)} expired at ${input.version.expiresOn.toISOString()}; create a new version.`,
      }
    : null;

const alreadyValid: PreflightCheck = (input) =>
  input.version.notBefore && input.version.notBefore.getTime() > input.now.getTime()
    ? {
        reason: "preflight-not-yet-valid",
        message: `${describe(input)} is not valid before ${input.version.notBefore.toISOString()}; consumers are repointed after that time.`,
      }
    : null;

const isRsa: PreflightCheck = (input) =>
  input.version.keyType === "RSA" || input.version.keyType === "RSA-HSM"
    ? null
    : {
        reason: "preflight-not-rsa",
        message: `${describe(input)} is ${input.version.keyType}, but customer-managed keys must be RSA or RSA-HSM; create an RSA version.`,
      };

const largeEnough: PreflightCheck = (input) => {
  const required = requiredRsaBits(input.consumerKinds, input.policy);
  const size = input.version.keySize;
  if (size !== undefined && size >= required) return null;
  const users =
    input.consumerKinds.length > 0 ? ` (used by ${[...input.consumerKinds].sort().join(", ")})` : "";
  return {
    reason: "preflight-key-too-small",
    message:
      size === undefined
        ? `${describe(input)} has an unknown RSA size; at least ${required} bits are required${users}.`
        : `${describe(input)} is RSA ${size}, smaller than the ${required} bits required${users}; create a larger version.`,
  };
};

const sizeAccepted: PreflightCheck = (input) => {
  const size = input.version.keySize;
  if (size === undefined) return null; // largeEnough already refuses an unknown size
  const refusing = [...input.consumerKinds].sort().filter((kind) => {
    const accepted = input.policy.acceptedRsaBits[kind];
    return accepted !== undefined && !accepted.includes(size);
  });
  if (refusing.length === 0) return null;
  const accepted = refusing
    .map((kind) => `${kind} accepts RSA ${input.policy.acceptedRsaBits[kind]?.join("/")}`)
    .join("; ");
  return {
    reason: "preflight-key-size-unsupported",
    message: `${describe(input)} is RSA ${size}, which ${refusing.join(" and ")} cannot use (${accepted}); create a version of an accepted size, or move those consumers to another key.`,
  };
};

const wrapsKeys: PreflightCheck = (input) => {
  const ops = new Set(input.version.keyOps.map((op) => op.toLowerCase()));
  const missing = REQUIRED_KEY_OPS.filter((op) => !ops.has(op.toLowerCase()));
  return missing.length === 0
    ? null
    : {
        reason: "preflight-missing-key-ops",
        message: `${describe(input)} does not permit ${missing.join(" and ")}; create a version whose key operations include wrapKey and unwrapKey.`,
      };
};

const purgeProtected: PreflightCheck = (input) => {
  const level = input.version.recoveryLevel;
  if (level !== undefined && !level.includes("Purgeable")) return null;
  return {
    reason: "preflight-not-purge-protected",
    message:
      level === undefined
        ? `${describe(input)} reports no recovery level, so purge protection is unproven; customer-managed keys need a vault with soft delete and purge protection.`
        : `${describe(input)} has recovery level ${level}: vault ${input.key.vaultName} lacks purge protection, which customer-managed keys require; enable purge protection on the vault.`,
  };
};

const PREFLIGHT_CHECKS: readonly PreflightCheck[] = [
  enabled,
  notCompromised,
  notExpired,
  alreadyValid,
  isRsa,
  largeEnough,
  sizeAccepted,
  wrapsKeys,
  purgeProtected,
];

/** Null when consumers may use the version, else why not. */
export function preflight(input: PreflightInput): Verdict | null {
  for (const check of PREFLIGHT_CHECKS) {
    const verdict = check(input);
    if (verdict) return verdict;
  }
  return null;
}
