/** Every function of the app, once: Azure registers them on import, the local host serves this list. */
import type { FunctionDefinition } from "../src/hosting/functionDefinition.js";
import { cancelMigrationFunction } from "./cancelMigration.js";
import { dashboardFunction } from "./dashboard.js";
import { freezeKeyFunction } from "./freezeKey.js";
import { keysFunction } from "./keys.js";
import { keyVersionCreatedFunction } from "./keyVersionCreated.js";
import { migrateKeyFunction } from "./migrateKey.js";
import { restoreVersionFunction } from "./restoreVersion.js";
import { retireOldVersionsFunction } from "./retireOldVersions.js";
import { rotateKeyFunction } from "./rotateKey.js";
import { unfreezeKeyFunction } from "./unfreezeKey.js";

export const allFunctions: FunctionDefinition[] = [
  keyVersionCreatedFunction,
  retireOldVersionsFunction,
  rotateKeyFunction,
  restoreVersionFunction,
  freezeKeyFunction,
  unfreezeKeyFunction,
  migrateKeyFunction,
  cancelMigrationFunction,
  keysFunction,
  dashboardFunction,
];
