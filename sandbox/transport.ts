/**
 * The sandbox side of `AzureTransport`: an HTTPS agent that connects every Azure host
 * name to the sandbox's loopback port (keeping the host as TLS server name, and trusting
 * only the sandbox CA), and a credential that mints sandbox tokens for one estate identity.
 * URLs stay the real Azure ones.
 */
import { Agent } from "node:https";
import { type ConnectionOptions, connect } from "node:tls";
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import type { AzureTransport } from "../src/azure/transport.js";
import { mintSandboxToken } from "./identity.js";
import type { SandboxStore } from "./store.js";

export interface SandboxEndpoint {
  port: number;
  caPem: string;
  store: SandboxStore;
}

/** An HTTPS agent that sends every connection to 127.0.0.1:`port`, verifying the sandbox CA. */
export function sandboxAgent(port: number, caPem: string): Agent {
  const agent = new Agent({ keepAlive: true, ca: caPem });
  agent.createConnection = (options: ConnectionOptions) => {
    const requestedHost = options.servername || options.host || "localhost";
    const isIp = /^\d+\.\d+\.\d+\.\d+$/.test(requestedHost);
    return connect({
      ...options,
      host: "127.0.0.1",
      port,
      ca: caPem,
      ...(isIp ? { servername: "" } : { servername: requestedHost }),
    });
  };
  return agent;
}

/** A credential minting sandbox tokens for the estate identity `identityName`. */
export function sandboxCredential(store: SandboxStore, identityName: string): TokenCredential {
  return {
    async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
      const identity = store.identityByName(identityName);
      if (!identity) {
        throw new Error(
          `The sandbox estate has no identity named "${identityName}"; use one of: ${[...store.identities.values()].map((i) => i.name).join(", ")}.`,
        );
      }
      const scope = (Array.isArray(scopes) ? scopes[0] : scopes) ?? "";
      const audience = scope.replace(/\/\.default$/, "");
      const now = store.now();
      const token = mintSandboxToken(
        {
          oid: identity.objectId,
          aud: audience,
          tid: options?.tenantId ?? store.tenantId,
          appid: identity.clientId,
        },
        now,
      );
      // The SDK compares expiry with the real clock, whatever clock the sandbox runs on.
      return { token, expiresOnTimestamp: Date.now() + 3600 * 1000, tokenType: "Bearer" };
    },
  };
}

/** Everything a client factory needs to talk to the sandbox as `identityName`. */
export function sandboxTransport(sandbox: SandboxEndpoint, identityName = "rotator"): AzureTransport {
  return {
    credential: sandboxCredential(sandbox.store, identityName),
    agent: sandboxAgent(sandbox.port, sandbox.caPem),
  };
}
