/**
 * What the sandbox is made of. `startSandbox` serves every service below (first match on
 * host wins), runs every seeder once after the core seeding of an estate (identities,
 * roles, vaults, keys, workspaces), and ticks every background loop. A new sandbox
 * service is one module plus one line here.
 */
import type { Estate } from "./estate.js";
import type { SandboxService } from "./http.js";
import type { SandboxStore } from "./store.js";

export type SandboxSeeder = (store: SandboxStore, estate: Estate) => void;

export interface SandboxBackgroundLoop {
  readonly name: string;
  /** Called about every 250 ms; must not throw for ordinary conditions. */
  tick(store: SandboxStore): Promise<void> | void;
}

export const sandboxServices: SandboxService[] = [];

export const sandboxSeeders: SandboxSeeder[] = [];

export const sandboxLoops: SandboxBackgroundLoop[] = [];
