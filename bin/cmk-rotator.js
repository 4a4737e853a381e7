#!/usr/bin/env node
// The `cmk-rotator` command: runs the built CLI (`npm run build` compiles it to dist/).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write("cmk-rotator: the CLI is not built yet; run `npm run build` in the project first\n");
  process.exit(1);
}
const { runFromProcess } = await import(entry.href);
await runFromProcess();
