/**
 * The api-versions each provider of the sandbox answers. The SDK clients send their own
 * (checked in node_modules): @azure/arm-kusto 8.1.0 sends 2023-08-15, @azure/arm-cosmosdb
 * 17.0.0 sends 2026-03-15 (the newest spec copied here is 2025-10-15, same shapes for what
 * the sandbox serves), @azure/arm-resourcegraph 5.0.0 sends 2024-04-01.
 */
import { ArmRequestError } from "./armErrors.js";

export const kustoApiVersions = ["2023-08-15", "2025-02-14"] as const;
export const documentDbApiVersions = ["2025-10-15", "2026-03-15"] as const;
export const resourceGraphApiVersions = ["2024-04-01"] as const;

const apiVersionFormat = /^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha|-privatepreview)?$/i;

/**
 * The request's api-version when `supported` lists it; otherwise the error ARM answers with:
 * MissingApiVersionParameter, InvalidApiVersionParameter (malformed) or
 * NoRegisteredProviderFound (well formed, unknown to the provider).
 */
export function requireApiVersion(
  query: URLSearchParams,
  supported: readonly string[],
  resourceTypeLabel: string,
  location = "global",
): string {
  const apiVersion = query.get("api-version");
  if (apiVersion === null || apiVersion === "") {
    throw new ArmRequestError(
      400,
      "MissingApiVersionParameter",
      "The api-version query parameter (?api-version=) is required for all requests.",
    );
  }
  if (!apiVersionFormat.test(apiVersion)) {
    throw new ArmRequestError(
      400,
      "InvalidApiVersionParameter",
      `The api-version '${apiVersion}' is invalid. The supported versions are '${supported.join(",")}'. Please see https://aka.ms/api-versions for more information.`,
    );
  }
  if (!supported.includes(apiVersion)) {
    throw new ArmRequestError(
      400,
      "NoRegisteredProviderFound",
      `No registered resource provider found for location '${location}' and API version '${apiVersion}' for type '${resourceTypeLabel}'. The supported api-versions are '${supported.join(", ")}'.`,
    );
  }
  return apiVersion;
}
