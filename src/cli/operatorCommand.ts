/**
 * `cmk-rotator restore|freeze|unfreeze`: an operator's act through the same rotation service the
 * HTTP routes call (POST /api/keys/{vault}/{key}/versions/{version}/restore, .../freeze,
 * .../unfreeze), with the same validation and answers, printed as JSON. Configured by the
 * ROTATOR_* environment like `plan`; with none set it acts on the built-in sandbox and says so.
 */
import {
  describeError,
  NotFoundError,
  PayloadTooLargeError,
  SettingsError,
  ValidationError,
} from "../errors.js";
import { type RotatorLog, structuredLog } from "../rotation/log.js";
import { buildRuntime } from "../runtime.js";
import type { OperatorCommand } from "./args.js";
import {
  type CliOutput,
  EXIT,
  type FallbackEnvironment,
  type FallbackEnvironmentStarter,
  hasRotatorSettings,
} from "./planCommand.js";

export interface OperatorCommandOptions {
  command: OperatorCommand;
  env: Record<string, string | undefined>;
  io: CliOutput;
  sandbox?: FallbackEnvironmentStarter;
}

export async function runOperatorCommand(options: OperatorCommandOptions): Promise<number> {
  const { io, command } = options;
  const name = `cmk-rotator ${command.command}`;
  const log: RotatorLog = structuredLog({ info: () => undefined, warn: io.err, error: io.err });
  const sandboxed = !hasRotatorSettings(options.env);
  if (sandboxed && !options.sandbox) {
    io.err(
      `${name}: no ROTATOR_* settings found, and this install has no built-in sandbox; set the ROTATOR_* settings of the function app (see the README)`,
    );
    return EXIT.failed;
  }
  if (sandboxed) io.err(`${name}: no ROTATOR_* settings found; acting on the built-in sandbox`);
  let environment: FallbackEnvironment | undefined;
  try {
    if (sandboxed && options.sandbox) environment = await options.sandbox();
    const { service } = buildRuntime({
      env: environment?.env ?? options.env,
      log,
      ...(environment ? { transport: environment.transport } : {}),
    });
    const request = { vault: command.vault, key: command.key, reason: command.reason };
    const answer =
      command.command === "restore"
        ? await service.restoreVersion({ ...request, version: command.version ?? "" })
        : command.command === "freeze"
          ? await service.freezeKey(request)
          : await service.unfreezeKey(request);
    io.out(JSON.stringify(answer, null, 2));
    return EXIT.ok;
  } catch (error) {
    if (error instanceof SettingsError) io.err(`${name}: bad settings (${error.setting}): ${error.message}`);
    else if (
      error instanceof ValidationError ||
      error instanceof NotFoundError ||
      error instanceof PayloadTooLargeError
    )
      io.err(`${name}: ${error.message}`);
    else io.err(`${name} failed: ${describeError(error)}`);
    return EXIT.failed;
  } finally {
    await environment?.close();
  }
}
