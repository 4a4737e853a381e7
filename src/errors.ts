/**
 * The service's named errors. Every error extends `RotatorError`, carries a stable `code`
 * and, when it wraps another failure, a `cause`. Messages say what failed, for which
 * resource, and what to do about it.
 *
 * Only the unexpected throws: expected outcomes of a step (done / pending / failed) are
 * `StepOutcome` values, not exceptions.
 */

export type RotatorErrorCode =
  | "settings"
  | "validation"
  | "payload-too-large"
  | "not-found"
  | "conflict"
  | "azure-call";

export interface RotatorErrorOptions {
  cause?: unknown;
}

export class RotatorError extends Error {
  readonly code: RotatorErrorCode;

  constructor(code: RotatorErrorCode, message: string, options: RotatorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** A setting is missing or malformed; the service must not start. */
export class SettingsError extends RotatorError {
  /** The offending setting, e.g. "ROTATOR_QUIET_PERIOD" (the first one when several are bad). */
  readonly setting: string;
  /** Every problem found when several settings are bad; otherwise just this error. */
  readonly problems: readonly SettingsError[];

  constructor(
    setting: string,
    message: string,
    options: RotatorErrorOptions & { problems?: SettingsError[] } = {},
  ) {
    super("settings", message, options);
    this.setting = setting;
    this.problems = options.problems ?? [this];
  }
}

/** Input from outside (a request body, an event, a header, a file) is malformed. */
export class ValidationError extends RotatorError {
  /** What was validated, e.g. "request body", "event data.Id". */
  readonly subject: string;

  constructor(subject: string, message: string, options: RotatorErrorOptions = {}) {
    super("validation", message, options);
    this.subject = subject;
  }
}

/** A resource the caller named does not exist or is not managed by this service. */
export class NotFoundError extends RotatorError {
  readonly resource: string;

  constructor(resource: string, message: string, options: RotatorErrorOptions = {}) {
    super("not-found", message, options);
    this.resource = resource;
  }
}

/** The request conflicts with the current state (a lease is held, a replay differs, ...). */
export class ConflictError extends RotatorError {
  readonly resource: string;

  constructor(resource: string, message: string, options: RotatorErrorOptions = {}) {
    super("conflict", message, options);
    this.resource = resource;
  }
}

/** A migration of the key is already running (or would chain into another one): 409 MigrationRunning. */
export class MigrationRunningError extends ConflictError {}

/**
 * An emergency rotation of a key ran, or created a version within ROTATOR_EMERGENCY_COOLDOWN:
 * another one is refused (409) and told which version was just created; `"force": true`
 * overrides.
 */
export class EmergencyCooldownError extends ConflictError {
  constructor(
    resource: string,
    message: string,
    readonly recent: { version: string; versionId: string; createdAt: Date; retryAfterMs: number },
  ) {
    super(resource, message);
  }
}

/**
 * A new version of a Managed HSM key would pass the cap of versions Managed HSM keeps (100):
 * an emergency rotation is refused (409) before anything is created.
 */
export class VersionCapError extends ConflictError {
  constructor(
    resource: string,
    message: string,
    readonly versions: number,
    readonly cap: number,
  ) {
    super(resource, message);
  }
}

/** A request body is larger than the function accepts (413). */
export class PayloadTooLargeError extends RotatorError {
  constructor(
    readonly limitBytes: number,
    message: string,
  ) {
    super("payload-too-large", message);
  }
}

export interface AzureCallErrorDetails {
  /** ARM id or data-plane URL of the resource the call was about. */
  resourceId: string;
  /** What the service tried, e.g. "update key version", "begin update Kusto cluster". */
  operation: string;
  /** HTTP status, when the call got an answer. */
  status?: number;
  /** Azure error code from the response body, when present. */
  azureCode?: string;
}

/** An Azure call failed unexpectedly (not a retryable pending state). */
export class AzureCallError extends RotatorError {
  readonly resourceId: string;
  readonly operation: string;
  readonly status: number | undefined;
  readonly azureCode: string | undefined;

  constructor(details: AzureCallErrorDetails, message: string, options: RotatorErrorOptions = {}) {
    super("azure-call", message, options);
    this.resourceId = details.resourceId;
    this.operation = details.operation;
    this.status = details.status;
    this.azureCode = details.azureCode;
  }
}

/** A message for any thrown value, for logs and answers. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
