/** The command line of `cmk-rotator`: parsed and validated here, nowhere else. */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export type CliCommand = { command: "help" } | { command: "plan"; json: boolean };

export const USAGE = `Usage: cmk-rotator plan [--json]

Prints what the service would do now, per managed key: versions, consumers, holds,
blocks and next actions. It plans only and changes nothing.

  plan          the plan as tables
  plan --json   the same as JSON (the views GET /api/keys answers)
  --help, -h    this text

Settings come from the ROTATOR_* environment variables, as for the function app (see the
README); Azure is reached with DefaultAzureCredential (az login, environment, managed
identity). With no ROTATOR_* variable set, the plan runs against the built-in sandbox.

Exit codes: 0 planned, 1 bad settings or the plan could not be read, 2 usage error.`;

/** Parses `argv` (without node and the script). Throws UsageError for anything it does not know. */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  if (argv.some((arg) => arg === "--help" || arg === "-h" || arg === "help")) return { command: "help" };
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError("no command given: try `cmk-rotator plan`");
  if (command !== "plan")
    throw new UsageError(`unknown command ${JSON.stringify(command)}: the command is \`plan\``);
  let json = false;
  for (const arg of rest) {
    if (arg === "--json") json = true;
    else throw new UsageError(`unknown option ${JSON.stringify(arg)} for plan: it takes only --json`);
  }
  return { command: "plan", json };
}
