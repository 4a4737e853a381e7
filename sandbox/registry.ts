/**
 * What the sandbox is made of. `startSandbox` serves every service below (first match on
 * host wins), runs every seeder once after the core seeding of an estate (identities,
 * roles, vaults, keys, workspaces), and ticks every background loop. A new sandbox
 * service is one module plus one line here.
 */
import { armLongRunningOperationLoop, createResourceManagerService } from "./arm/resourceManagerService.js";
import { seedArmResources } from "./arm/seedArmResources.js";
import { consumerLoop, seedConsumers } from "./consumers/consumerSimulation.js";
import { controlService } from "./control.js";
import type { Estate } from "./estate.js";
import { customTopicService } from "./eventgrid/customTopic.js";
import { eventGridLoop, seedEventGrid } from "./eventgrid/eventGridSimulation.js";
import type { SandboxService } from "./http.js";
import { consumerKeyOperation } from "./keyvault/operations.js";
import { keyVaultService } from "./keyvault/service.js";
import { logAnalyticsService } from "./loganalytics/logAnalyticsService.js";
import type { SandboxStore } from "./store.js";

export type SandboxSeeder = (store: SandboxStore, estate: Estate) => void;

export interface SandboxBackgroundLoop {
  readonly name: string;
  /** Called about every 250 ms; must not throw for ordinary conditions. */
  tick(store: SandboxStore): Promise<void> | void;
}

export const sandboxServices: SandboxService[] = [
  keyVaultService,
  controlService,
  customTopicService,
  createResourceManagerService(),
  logAnalyticsService,
];

export const sandboxSeeders: SandboxSeeder[] = [seedEventGrid, seedConsumers, seedArmResources];

export const sandboxLoops: SandboxBackgroundLoop[] = [
  eventGridLoop,
  consumerLoop(consumerKeyOperation),
  armLongRunningOperationLoop,
];
