/**
 * `cmk-rotator migrate` and `cmk-rotator migrate-cancel`: the HTTP migration operations
 * (POST /api/keys/{vault}/{key}/migrate and …/migrate/cancel) through the same rotation
 * service, printing the answer as JSON. A refusal (bad input, unmanaged or missing key, a
 * migration already running, nothing to cancel) prints `{"error": {"code", "message"}}` and exits 1.
 */
import { ConflictError, MigrationRunningError, NotFoundError, ValidationError } from "../errors.js";
import { EXIT, type PlanCommandOptions, withService } from "./planCommand.js";

export interface MigrateCommand {
  command: "migrate";
  vault: string;
  key: string;
  toVault: string;
  toKey: string;
  reason: string;
  retireSource: boolean;
  dryRun: boolean;
}

export interface MigrateCancelCommand {
  command: "migrate-cancel";
  vault: string;
  key: string;
  reason: string;
}

type CommandOptions = Omit<PlanCommandOptions, "json">;

function refusal(error: unknown): { code: string; message: string } | undefined {
  if (error instanceof ValidationError) return { code: "BadRequest", message: error.message };
  if (error instanceof NotFoundError) return { code: "NotFound", message: error.message };
  if (error instanceof MigrationRunningError) return { code: "MigrationRunning", message: error.message };
  if (error instanceof ConflictError) return { code: "Conflict", message: error.message };
  return undefined;
}

async function answered(options: CommandOptions, call: () => Promise<unknown>): Promise<number> {
  try {
    options.io.out(JSON.stringify(await call(), null, 2));
    return EXIT.ok;
  } catch (error) {
    const refused = refusal(error);
    if (!refused) throw error;
    options.io.out(JSON.stringify({ error: refused }, null, 2));
    return EXIT.failed;
  }
}

export function runMigrateCommand(command: MigrateCommand, options: CommandOptions): Promise<number> {
  return withService("migrate", options, (service) =>
    answered(options, () =>
      service.migrate({
        vault: command.vault,
        key: command.key,
        toVault: command.toVault,
        toKey: command.toKey,
        reason: command.reason,
        dryRun: command.dryRun,
        retireSource: command.retireSource,
      }),
    ),
  );
}

export function runMigrateCancelCommand(
  command: MigrateCancelCommand,
  options: CommandOptions,
): Promise<number> {
  return withService("migrate-cancel", options, (service) =>
    answered(options, () =>
      service.cancelMigration({ vault: command.vault, key: command.key, reason: command.reason }),
    ),
  );
}
