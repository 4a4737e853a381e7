/** The sandbox most integration tests start: they drive time themselves, and keep no state between runs. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningSandbox, type StartSandboxOptions, startSandbox } from "../../../sandbox/server.js";

/** A sandbox without background loops, its CA kept in a fresh temporary folder. */
export function startQuietSandbox(
  options: Omit<StartSandboxOptions, "backgroundLoops" | "stateDir"> = {},
): Promise<RunningSandbox> {
  return startSandbox({
    ...options,
    backgroundLoops: false,
    stateDir: mkdtempSync(join(tmpdir(), "sandbox-integration-")),
  });
}
