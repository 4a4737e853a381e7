#!/usr/bin/env node
// The `cmk-rotator` command: runs the built CLI (`npm run build` compiles it to dist/). Where the
// project's sandbox is built too (a development checkout, not a production install), it is
// handed in so that a run without ROTATOR_* settings plans against the built-in sandbox.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write("cmk-rotator: the CLI is not built yet; run `npm run build` in the project first\n");
  process.exit(1);
}
const sandboxEntry = new URL("../dist/sandbox/local/sandboxEnvironment.js", import.meta.url);
const options = {};
if (existsSync(fileURLToPath(sandboxEntry))) {
  const { startSandboxEnvironment } = await import(sandboxEntry.href);
  options.sandbox = () => startSandboxEnvironment({ log: () => undefined });
}
const { runFromProcess } = await import(entry.href);
await runFromProcess(options);
