/** The command line of `cmk-rotator`: parsed and validated here, nowhere else. */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

import type { MigrateCancelCommand, MigrateCommand } from "./migrateCommand.js";

/** An operator's act: restore a version now, freeze or unfreeze retirement of a key. */
export interface OperatorCommand {
  command: "restore" | "freeze" | "unfreeze";
  vault: string;
  key: string;
  /** restore only. */
  version?: string;
  reason: string;
}

export type CliCommand =
  | { command: "help" }
  | { command: "plan"; json: boolean }
  | OperatorCommand
  | MigrateCommand
  | MigrateCancelCommand;

export const USAGE = `Usage: cmk-rotator plan [--json]
       cmk-rotator restore <vault> <key> <version> --reason "..."
       cmk-rotator freeze <vault> <key> --reason "..."
       cmk-rotator unfreeze <vault> <key> --reason "..."
       cmk-rotator migrate <vault> <key> --to-vault V --to-key K --reason "..." [--retire-source] [--dry-run]
       cmk-rotator migrate-cancel <vault> <key> --reason "..."

  plan            what the service would do now, per managed key: versions, consumers,
                  holds, blocks, migrations and next actions, as tables; it changes nothing
  plan --json     the same as JSON (the views GET /api/keys answers)
  restore         enables a disabled version now (tags it, journals it, publishes
                  VersionRestored) and freezes retirement of the key; a compromised version
                  too (your decision: the service never does it by itself)
  freeze          freezes retirement of the key: nothing of it retires until unfrozen
  unfreeze        lets retirement of the key resume (still only on evidence)
  migrate         moves every consumer of <vault>/<key> to the key --to-vault/--to-key (the
                  second way to rotate), as POST /api/keys/{vault}/{key}/migrate: stored, and
                  every later run moves the rest; --retire-source disables the source's newest
                  version too once nothing uses it; --dry-run plans only. Prints the answer as JSON
  migrate-cancel  stops the key's migration (no further moves; nothing moves back), as
                  POST /api/keys/{vault}/{key}/migrate/cancel
  --reason        why, required for restore, freeze, unfreeze, migrate and migrate-cancel
                  (at most 500 characters for restore, freeze and unfreeze)
  --help, -h      this text

restore, freeze and unfreeze print the answer as JSON, as the HTTP routes do; a repeat
changes nothing. In report mode (ROTATOR_MODE=report) they change nothing.

Settings come from the ROTATOR_* environment variables, as for the function app (see the
README); Azure is reached with DefaultAzureCredential (az login, environment, managed
identity). With no ROTATOR_* variable set, the plan runs against the built-in sandbox.

Exit codes: 0 done, 1 bad settings, bad input, a failure, or a refused request (the JSON
answer says why), 2 usage error.`;

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
  const [command, ...rest] = argv;
  if (command === "help" || argv.some((arg) => arg === "--help" || arg === "-h")) return { command: "help" };
  if (command === undefined) throw new UsageError("no command given: try `cmk-rotator plan`");
  if (command === "plan") return parsePlan(rest);
  if (command === "restore" || command === "freeze" || command === "unfreeze")
    return parseOperatorArgs(command, rest);
  if (command === "migrate" || command === "migrate-cancel") return parseMigrate(command, rest);
  throw new UsageError(
    `unknown command ${JSON.stringify(command)}: the commands are \`plan\`, \`restore\`, \`freeze\`, \`unfreeze\`, \`migrate\` and \`migrate-cancel\``,
  );
}

function parsePlan(rest: readonly string[]): CliCommand {
  let json = false;
  for (const arg of rest) {
    if (arg === "--json") json = true;
    else throw new UsageError(`unknown option ${JSON.stringify(arg)} for plan: it takes only --json`);
  }
  return { command: "plan", json };
}

const VALUE_OPTIONS = {
  migrate: ["--to-vault", "--to-key", "--reason"],
  "migrate-cancel": ["--reason"],
} as const;
const FLAG_OPTIONS = { migrate: ["--retire-source", "--dry-run"], "migrate-cancel": [] } as const;

function parseMigrate(command: "migrate" | "migrate-cancel", rest: readonly string[]): CliCommand {
  const positional: string[] = [];
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const valueOptions: readonly string[] = VALUE_OPTIONS[command];
  const flagOptions: readonly string[] = FLAG_OPTIONS[command];
  for (let index = 0; index < rest.length; index++) {
    const arg = rest[index] ?? "";
    const [name = "", inline] =
      arg.startsWith("--") && arg.includes("=")
        ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
        : [arg, undefined];
    if (valueOptions.includes(name)) {
      const value = inline ?? rest[++index];
      if (value === undefined || value === "") throw new UsageError(`${name} needs a value`);
      if (values.has(name)) throw new UsageError(`${name} is given twice`);
      values.set(name, value);
    } else if (flagOptions.includes(name) && inline === undefined) {
      flags.add(name);
    } else if (arg.startsWith("--")) {
      throw new UsageError(
        `unknown option ${JSON.stringify(arg)} for ${command}: it takes ${[...valueOptions, ...flagOptions].join(", ")}`,
      );
    } else {
      positional.push(arg);
    }
  }
  if (positional.length !== 2)
    throw new UsageError(
      `${command} takes the source key as <vault> <key>; got ${positional.length} argument(s)`,
    );
  const [vault = "", key = ""] = positional;
  const required = (name: string): string => {
    const value = values.get(name);
    if (value === undefined) throw new UsageError(`${command} needs ${name}`);
    return value;
  };
  if (command === "migrate-cancel") return { command, vault, key, reason: required("--reason") };
  return {
    command,
    vault,
    key,
    toVault: required("--to-vault"),
    toKey: required("--to-key"),
    reason: required("--reason"),
    retireSource: flags.has("--retire-source"),
    dryRun: flags.has("--dry-run"),
  };
}
