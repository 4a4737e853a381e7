/** The command line of `cmk-rotator`: parsed and validated here, nowhere else. */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** An operator's act: restore a version now, freeze or unfreeze retirement of a key. */
export interface OperatorCommand {
  command: "restore" | "freeze" | "unfreeze";
  vault: string;
  key: string;
  /** restore only. */
  version?: string;
  reason: string;
}

export type CliCommand = { command: "help" } | { command: "plan"; json: boolean } | OperatorCommand;

export const USAGE = `Usage: cmk-rotator plan [--json]
       cmk-rotator restore <vault> <key> <version> --reason "..."
       cmk-rotator freeze <vault> <key> --reason "..."
       cmk-rotator unfreeze <vault> <key> --reason "..."

plan prints what the service would do now, per managed key: versions, consumers, holds,
blocks and next actions. It plans only and changes nothing.

  plan          the plan as tables
  plan --json   the same as JSON (the views GET /api/keys answers)
  restore       enables a disabled version now (tags it, journals it, publishes
                VersionRestored) and freezes retirement of the key; a compromised version
                too (your decision: the service never does it by itself)
  freeze        freezes retirement of the key: nothing of it retires until unfrozen
  unfreeze      lets retirement of the key resume (still only on evidence)
  --reason      why, required for restore, freeze and unfreeze (at most 500 characters)
  --help, -h    this text

restore, freeze and unfreeze print the answer as JSON, as the HTTP routes do; a repeat
changes nothing. In report mode (ROTATOR_MODE=report) they change nothing.

Settings come from the ROTATOR_* environment variables, as for the function app (see the
README); Azure is reached with DefaultAzureCredential (az login, environment, managed
identity). With no ROTATOR_* variable set, the plan runs against the built-in sandbox.

Exit codes: 0 done, 1 bad settings, bad input or a failure, 2 usage error.`;

const OPERATOR_ARGUMENTS = {
  restore: ["vault", "key", "version"],
  freeze: ["vault", "key"],
  unfreeze: ["vault", "key"],
} as const;

function parseOperatorArgs(command: OperatorCommand["command"], rest: readonly string[]): OperatorCommand {
  const names = OPERATOR_ARGUMENTS[command];
  const positional: string[] = [];
  let reason: string | undefined;
  for (let index = 0; index < rest.length; index++) {
    const arg = rest[index] ?? "";
    if (arg === "--reason") {
      const value = rest[index + 1];
      if (value === undefined) throw new UsageError('--reason needs a value: --reason "why"');
      reason = value;
      index++;
    } else if (arg.startsWith("--reason=")) {
      reason = arg.slice("--reason=".length);
    } else if (arg.startsWith("-")) {
      throw new UsageError(`unknown option ${JSON.stringify(arg)} for ${command}: it takes only --reason`);
    } else {
      positional.push(arg);
    }
  }
  if (positional.length !== names.length) {
    throw new UsageError(
      `${command} takes ${names.map((name) => `<${name}>`).join(" ")} --reason "..."; got ${positional.length} argument(s)`,
    );
  }
  if (reason === undefined || reason.trim() === "") throw new UsageError(`${command} needs --reason "why"`);
  const [vault = "", key = "", version] = positional;
  return { command, vault, key, ...(version !== undefined ? { version } : {}), reason };
}

/** Parses `argv` (without node and the script). Throws UsageError for anything it does not know. */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  if (argv.some((arg) => arg === "--help" || arg === "-h" || arg === "help")) return { command: "help" };
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError("no command given: try `cmk-rotator plan`");
  if (command === "restore" || command === "freeze" || command === "unfreeze")
    return parseOperatorArgs(command, rest);
  if (command !== "plan")
    throw new UsageError(
      `unknown command ${JSON.stringify(command)}: the commands are \`plan\`, \`restore\`, \`freeze\` and \`unfreeze\``,
    );
  let json = false;
  for (const arg of rest) {
    if (arg === "--json") json = true;
    else throw new UsageError(`unknown option ${JSON.stringify(arg)} for plan: it takes only --json`);
  }
  return { command: "plan", json };
}
