/**
 * Errors of the sandbox's Resource Manager, in the shapes the real services answer with.
 * ARM itself, Kusto, Managed Cassandra and Resource Graph wrap errors as
 * `{ "error": { "code", "message", "details"? } }` (CloudError); the Cosmos DB database
 * account provider answers with a bare `{ "code", "message" }` (its ErrorResponse).
 */
import { json, SandboxHttpError, type SandboxResponse } from "../http.js";

export type ArmErrorStyle = "cloudError" | "cosmos";

export interface ArmErrorDetail {
  code: string;
  message: string;
}

export class ArmRequestError extends SandboxHttpError {
  constructor(
    status: number,
    code: string,
    message: string,
    readonly style: ArmErrorStyle = "cloudError",
    readonly details: ArmErrorDetail[] = [],
    headers: Record<string, string> = {},
  ) {
    super(status, code, message, headers);
    this.name = "ArmRequestError";
  }
}

export function armErrorResponse(error: SandboxHttpError): SandboxResponse {
  if (error instanceof ArmRequestError && error.style === "cosmos") {
    return json(error.status, { code: error.code, message: error.message }, error.headers);
  }
  const details =
    error instanceof ArmRequestError && error.details.length > 0 ? { details: error.details } : {};
  return json(
    error.status,
    { error: { code: error.code, message: error.message, ...details } },
    error.headers,
  );
}

/** ARM's 404 for a resource that does not exist; it names the resource by its path after "/providers/". */
export function resourceNotFound(resourceId: string, resourceGroup: string): ArmRequestError {
  const typeAndName = resourceId.split(/\/providers\//i).pop() ?? resourceId;
  return new ArmRequestError(
    404,
    "ResourceNotFound",
    `The Resource '${typeAndName}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

/** ARM's 409 for a write to a tracked resource whose provisioning state is not terminal yet. */
export function provisioningNotTerminal(resourceId: string): ArmRequestError {
  return new ArmRequestError(
    409,
    "RequestConflict",
    `Cannot modify resource with id '${resourceId}' because the resource entity provisioning state is not terminal. Please wait for the provisioning state to become terminal and then retry the request.`,
  );
}

export function badRequest(message: string, style: ArmErrorStyle, code = "BadRequest"): ArmRequestError {
  return new ArmRequestError(400, code, message, style);
}
