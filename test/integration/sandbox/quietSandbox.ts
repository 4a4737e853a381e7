/** The sandbox most integration tests start: they drive time themselves, and keep no state between runs. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningSandbox, type StartSandboxOptions, startSandbox } from "../../../sandbox/server.js";

/** A sandbox without background loops, its CA kept in a fresh temporary folder that `close()` removes. */
export async function startQuietSandbox(
  options: Omit<StartSandboxOptions, "backgroundLoops" | "stateDir"> = {},
): Promise<RunningSandbox> {
  const stateDir = mkdtempSync(join(tmpdir(), "sandbox-integration-"));
  const removeStateDir = (): void => rmSync(stateDir, { recursive: true, force: true });
  let sandbox: RunningSandbox;
  try {
    sandbox = await startSandbox({ ...options, backgroundLoops: false, stateDir });
  } catch (error) {
    removeStateDir();
    throw error;
  }
  const close = sandbox.close.bind(sandbox);
  return {
    ...sandbox,
    close: async () => {
      try {
        await close();
      } finally {
        removeStateDir();
      }
    },
  };
}
