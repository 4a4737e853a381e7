/**
 * Sandbox tokens: unsigned JWTs (alg "none") whose `oid` claim names an identity of the
 * estate. The sandbox trusts the claims; it never checks a signature.
 */

export interface SandboxTokenClaims {
  oid: string;
  /** Audience, e.g. "https://vault.azure.net" or "https://management.azure.com". */
  aud: string;
  tid: string;
  appid?: string;
  iat: number;
  exp: number;
}

function base64url(input: string): string {
  return Buffer.from(input, "utf8").toString("base64url");
}

/** Mint an unsigned token for `oid`, valid for an hour from `nowMs`. */
export function mintSandboxToken(
  claims: { oid: string; aud: string; tid: string; appid?: string },
  nowMs: number,
): string {
  const iat = Math.floor(nowMs / 1000);
  const body: SandboxTokenClaims = { ...claims, iat, exp: iat + 3600 };
  return `${base64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${base64url(JSON.stringify(body))}.`;
}

/** Parse the claims of a bearer token; undefined when it is not a well-formed sandbox token. */
export function parseSandboxToken(token: string): SandboxTokenClaims | undefined {
  const parts = token.split(".");
  if (parts.length < 2 || !parts[1]) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    if (typeof claims !== "object" || claims === null) return undefined;
    const c = claims as Record<string, unknown>;
    if (typeof c.oid !== "string" || typeof c.aud !== "string") return undefined;
    return {
      oid: c.oid,
      aud: c.aud,
      tid: typeof c.tid === "string" ? c.tid : "",
      appid: typeof c.appid === "string" ? c.appid : undefined,
      iat: typeof c.iat === "number" ? c.iat : 0,
      exp: typeof c.exp === "number" ? c.exp : Number.MAX_SAFE_INTEGER,
    };
  } catch {
    return undefined;
  }
}

/** The bearer token of an Authorization header, if any. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  return match?.[1];
}
