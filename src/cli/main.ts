/** Entry point of the `cmk-rotator` command (bin/cmk-rotator.js runs the built copy). */
import { parseCliArgs, USAGE, UsageError } from "./args.js";
import { runMigrateCancelCommand, runMigrateCommand } from "./migrateCommand.js";
import { runOperatorCommand } from "./operatorCommand.js";
import { type CliOutput, EXIT, type FallbackEnvironmentStarter, runPlanCommand } from "./planCommand.js";

export interface CliOptions {
  /** The built-in sandbox, when installed (the package bin finds it in dist/sandbox/). */
  sandbox?: FallbackEnvironmentStarter;
}

/** Runs the command line `argv` (without node and the script) and returns the exit code. */
export async function main(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  io: CliOutput,
  options: CliOptions = {},
): Promise<number> {
  let command: ReturnType<typeof parseCliArgs>;
  try {
    command = parseCliArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`cmk-rotator: ${error.message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (command.command === "help") {
    io.out(USAGE);
    return EXIT.ok;
  }
  const common = { env, io, ...(options.sandbox ? { sandbox: options.sandbox } : {}) };
  if (command.command === "migrate") return runMigrateCommand(command, common);
  if (command.command === "migrate-cancel") return runMigrateCancelCommand(command, common);
  if (command.command !== "plan") return runOperatorCommand({ command, ...common });
  return runPlanCommand({ json: command.json, ...common });
}

/** Runs with the process's arguments, environment and streams, and sets its exit code. */
export async function runFromProcess(options: CliOptions = {}): Promise<void> {
  const io: CliOutput = {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  };
  process.exitCode = await main(process.argv.slice(2), process.env, io, options);
}
