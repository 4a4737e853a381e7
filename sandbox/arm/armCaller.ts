/**
 * Who is calling Resource Manager, and whether they may: ARM's 401 answers for a missing or
 * unusable token and its 403 AuthorizationFailed naming the client, the action and the scope.
 */
import type { SandboxRequest } from "../http.js";
import { bearerToken, parseSandboxToken } from "../identity.js";
import { isAuthorized } from "../rbac.js";
import type { SandboxStore } from "../store.js";
import { ArmRequestError } from "./armErrors.js";

export interface ArmCaller {
  objectId: string;
}

const armAudiences = new Set([
  "https://management.azure.com",
  "https://management.azure.com/",
  "https://management.core.windows.net",
  "https://management.core.windows.net/",
]);

function unauthenticated(code: string, message: string, description: string): ArmRequestError {
  return new ArmRequestError(401, code, message, "cloudError", [], {
    "www-authenticate": `Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="${description}"`,
  });
}

export function authenticateArmCaller(request: SandboxRequest, store: SandboxStore): ArmCaller {
  const authorization = request.headers.authorization;
  const token = bearerToken(typeof authorization === "string" ? authorization : undefined);
  if (!token) {
    throw unauthenticated(
      "AuthenticationFailed",
      "Authentication failed. The 'Authorization' header is missing.",
      "The authentication failed because of missing 'Authorization' header.",
    );
  }
  const claims = parseSandboxToken(token);
  if (!claims) {
    throw unauthenticated(
      "InvalidAuthenticationToken",
      "The access token is invalid.",
      "The access token is invalid.",
    );
  }
  if (!armAudiences.has(claims.aud)) {
    throw unauthenticated(
      "InvalidAuthenticationTokenAudience",
      `The access token has been obtained for wrong audience or resource '${claims.aud}'. It should exactly match with one of the allowed audiences '${[...armAudiences].join("','")}'.`,
      "The access token has been obtained for wrong audience.",
    );
  }
  if (claims.exp * 1000 < store.now()) {
    throw unauthenticated(
      "ExpiredAuthenticationToken",
      "The access token expiry UTC time is earlier than current UTC time.",
      "The access token has expired.",
    );
  }
  return { objectId: claims.oid };
}

export function callerMay(store: SandboxStore, caller: ArmCaller, action: string, scope: string): boolean {
  return isAuthorized(store, caller.objectId, scope, action, "control");
}

export function requireArmPermission(
  store: SandboxStore,
  caller: ArmCaller,
  action: string,
  scope: string,
): void {
  if (callerMay(store, caller, action, scope)) return;
  throw new ArmRequestError(
    403,
    "AuthorizationFailed",
    `The client '${caller.objectId}' with object id '${caller.objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
  );
}
