/**
 * `cmk-rotator plan`: observe and plan through the same rotation service the functions use,
 * and print the views. It never applies anything. Configured by the ROTATOR_* environment
 * (DefaultAzureCredential reaches Azure); with none set, it plans against the built-in
 * sandbox and says so first. The sandbox is not part of the service: the caller (the package
 * bin, tests) hands it in as `sandbox`, and a production install without it says so.
 */

import type { AzureTransport } from "../azure/transport.js";
import { describeError, SettingsError } from "../errors.js";
import type { KeyView } from "../plan/view.js";
import { type RotatorLog, structuredLog } from "../rotation/log.js";
import type { KeysAnswer, RotationService } from "../rotation/rotationService.js";
import { buildRuntime } from "../runtime.js";
import { formatPlan } from "./planTable.js";

export const SANDBOX_NOTICE =
  "cmk-rotator plan: no ROTATOR_* settings found; planning against the built-in sandbox";

export interface CliOutput {
  /** The result: the plan table or JSON. */
  out(text: string): void;
  /** Notices, logs and errors. */
  err(text: string): void;
}

/** An environment the service can run against without any ROTATOR_* setting: the built-in sandbox. */
export interface FallbackEnvironment {
  /** Complete ROTATOR_* settings for it. */
  env: Record<string, string>;
  transport: AzureTransport;
  close(): Promise<void>;
}

/** Starts the built-in sandbox (sandbox/local/sandboxEnvironment.ts), when it is installed. */
export type FallbackEnvironmentStarter = () => Promise<FallbackEnvironment>;

export interface PlanCommandOptions {
  json: boolean;
  env: Record<string, string | undefined>;
  io: CliOutput;
  /** The built-in sandbox, for a run without ROTATOR_* settings; absent in a production install. */
  sandbox?: FallbackEnvironmentStarter;
}

export const NO_SANDBOX_MESSAGE =
  "cmk-rotator plan: no ROTATOR_* settings found, and this install has no built-in sandbox; set the ROTATOR_* settings of the function app (see the README)";

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** True when any ROTATOR_* variable has a value: then the settings must be complete. */
export function hasRotatorSettings(env: Record<string, string | undefined>): boolean {
  return Object.entries(env).some(([name, value]) => name.startsWith("ROTATOR_") && value?.trim());
}

/** The JSON document `plan --json` prints. */
export interface PlanDocument {
  environment: "sandbox" | "configured";
  observedAt: string;
  /** How old the observation was when printed (a run of the command observes afresh: 0). */
  ageSeconds: number;
  mode: KeysAnswer["mode"];
  keys: KeyView[];
}

export async function runPlanCommand(options: PlanCommandOptions): Promise<number> {
  const sandboxed = !hasRotatorSettings(options.env);
  return withService("plan", options, async (service) => {
    const answer = await service.currentPlan();
    // currentPlan fills `keys` with buildKeyViews' output, serialised to JSON.
    const keys = answer.keys as KeyView[];
    if (options.json) {
      const document: PlanDocument = {
        environment: sandboxed ? "sandbox" : "configured",
        observedAt: answer.observedAt,
        ageSeconds: answer.ageSeconds,
        mode: answer.mode,
        keys,
      };
      options.io.out(JSON.stringify(document, null, 2));
    } else {
      options.io.out(formatPlan(keys, new Date(answer.observedAt)));
    }
    return EXIT.ok;
  });
}

/**
 * Runs `work` with the rotation service built from the ROTATOR_* environment, or on the
 * built-in sandbox when none is set (it says so first); logs go to stderr so stdout stays the
 * result. Bad settings and failures print a sentence and exit 1.
 */
export async function withService(
  command: string,
  options: Omit<PlanCommandOptions, "json"> & { json?: boolean },
  work: (service: RotationService) => Promise<number>,
): Promise<number> {
  const { io } = options;
  const log: RotatorLog = structuredLog({ info: () => undefined, warn: io.err, error: io.err });
  const sandboxed = !hasRotatorSettings(options.env);
  if (sandboxed && !options.sandbox) {
    io.err(
      command === "plan"
        ? NO_SANDBOX_MESSAGE
        : `cmk-rotator ${command}${NO_SANDBOX_MESSAGE.slice("cmk-rotator plan".length)}`,
    );
    return EXIT.failed;
  }
  if (sandboxed)
    (options.json === false ? io.out : io.err)(
      command === "plan"
        ? SANDBOX_NOTICE
        : `cmk-rotator ${command}: no ROTATOR_* settings found; running against the built-in sandbox`,
    );
  let environment: FallbackEnvironment | undefined;
  try {
    if (sandboxed && options.sandbox) environment = await options.sandbox();
    const runtime = buildRuntime({
      env: environment?.env ?? options.env,
      log,
      ...(environment ? { transport: environment.transport } : {}),
    });
    return await work(runtime.service);
  } catch (error) {
    if (error instanceof SettingsError) {
      io.err(`cmk-rotator ${command}: bad settings (${error.setting}): ${error.message}`);
    } else if (command === "plan") {
      io.err(`cmk-rotator plan: reading the plan failed: ${describeError(error)}`);
    } else {
      io.err(`cmk-rotator ${command}: ${describeError(error)}`);
    }
    return EXIT.failed;
  } finally {
    await environment?.close();
  }
}
