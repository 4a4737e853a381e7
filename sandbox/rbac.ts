/**
 * Azure RBAC as the sandbox applies it: a role assignment applies to its scope and every
 * scope below it (path boundary, case-insensitive); its role grants an action when one of
 * the role's actions (control plane) or dataActions (data plane) matches it, `*` being a
 * wildcard, and none of the matching notActions/notDataActions does.
 */
import type { SandboxRoleDefinition } from "./model.js";
import type { SandboxStore } from "./store.js";

export type PermissionKind = "control" | "data";

/** Data actions of the Key Vault (vault) and Managed HSM data planes, by operation. */
export const keyVaultDataActions = {
  vault: {
    read: "Microsoft.KeyVault/vaults/keys/read",
    create: "Microsoft.KeyVault/vaults/keys/create/action",
    update: "Microsoft.KeyVault/vaults/keys/update/action",
    rotate: "Microsoft.KeyVault/vaults/keys/rotate/action",
    delete: "Microsoft.KeyVault/vaults/keys/delete",
    wrap: "Microsoft.KeyVault/vaults/keys/wrap/action",
    unwrap: "Microsoft.KeyVault/vaults/keys/unwrap/action",
    rotationPolicyRead: "Microsoft.KeyVault/vaults/keyrotationpolicies/read",
    rotationPolicyWrite: "Microsoft.KeyVault/vaults/keyrotationpolicies/write",
  },
  managedHsm: {
    read: "Microsoft.KeyVault/managedHsm/keys/read/action",
    create: "Microsoft.KeyVault/managedHsm/keys/create",
    update: "Microsoft.KeyVault/managedHsm/keys/write/action",
    rotate: "Microsoft.KeyVault/managedHsm/keys/create",
    delete: "Microsoft.KeyVault/managedHsm/keys/delete",
    wrap: "Microsoft.KeyVault/managedHsm/keys/wrap/action",
    unwrap: "Microsoft.KeyVault/managedHsm/keys/unwrap/action",
    rotationPolicyRead: "Microsoft.KeyVault/managedHsm/keys/read/action",
    rotationPolicyWrite: "Microsoft.KeyVault/managedHsm/keys/write/action",
  },
} as const;

export type KeyOperationPermission = keyof (typeof keyVaultDataActions)["vault"];

function role(
  roleName: string,
  parts: Partial<Omit<SandboxRoleDefinition, "roleName">>,
): SandboxRoleDefinition {
  return {
    roleName,
    actions: parts.actions ?? [],
    notActions: parts.notActions ?? [],
    dataActions: parts.dataActions ?? [],
    notDataActions: parts.notDataActions ?? [],
  };
}

const keyVaultReadActions = [
  "Microsoft.Authorization/*/read",
  "Microsoft.Insights/alertRules/*",
  "Microsoft.Resources/deployments/*",
  "Microsoft.Resources/subscriptions/resourceGroups/read",
  "Microsoft.Support/*",
  "Microsoft.KeyVault/checkNameAvailability/read",
  "Microsoft.KeyVault/deletedVaults/read",
  "Microsoft.KeyVault/locations/*/read",
  "Microsoft.KeyVault/vaults/*/read",
  "Microsoft.KeyVault/operations/read",
];

/** The built-in roles the sandbox knows, with their published action lists. */
export const builtInRoleDefinitions: readonly SandboxRoleDefinition[] = [
  role("Owner", { actions: ["*"] }),
  role("Contributor", {
    actions: ["*"],
    notActions: [
      "Microsoft.Authorization/*/Delete",
      "Microsoft.Authorization/*/Write",
      "Microsoft.Authorization/elevateAccess/Action",
      "Microsoft.Blueprint/blueprintAssignments/write",
      "Microsoft.Blueprint/blueprintAssignments/delete",
      "Microsoft.Compute/galleries/share/action",
      "Microsoft.Purview/consents/write",
      "Microsoft.Purview/consents/delete",
      "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
      "Microsoft.Subscription/cancel/action",
      "Microsoft.Subscription/enable/action",
    ],
  }),
  role("Reader", { actions: ["*/read"] }),
  role("Key Vault Administrator", {
    actions: keyVaultReadActions,
    dataActions: ["Microsoft.KeyVault/vaults/*"],
  }),
  role("Key Vault Reader", {
    actions: keyVaultReadActions,
    dataActions: [
      "Microsoft.KeyVault/vaults/*/read",
      "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ],
  }),
  role("Key Vault Crypto Officer", {
    actions: keyVaultReadActions,
    dataActions: ["Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*"],
  }),
  role("Key Vault Crypto User", {
    dataActions: [
      "Microsoft.KeyVault/vaults/keys/read",
      "Microsoft.KeyVault/vaults/keys/update/action",
      "Microsoft.KeyVault/vaults/keys/backup/action",
      "Microsoft.KeyVault/vaults/keys/encrypt/action",
      "Microsoft.KeyVault/vaults/keys/decrypt/action",
      "Microsoft.KeyVault/vaults/keys/wrap/action",
      "Microsoft.KeyVault/vaults/keys/unwrap/action",
      "Microsoft.KeyVault/vaults/keys/sign/action",
      "Microsoft.KeyVault/vaults/keys/verify/action",
    ],
  }),
  role("Key Vault Crypto Service Encryption User", {
    actions: [
      "Microsoft.EventGrid/eventSubscriptions/write",
      "Microsoft.EventGrid/eventSubscriptions/read",
      "Microsoft.EventGrid/eventSubscriptions/delete",
    ],
    dataActions: [
      "Microsoft.KeyVault/vaults/keys/read",
      "Microsoft.KeyVault/vaults/keys/wrap/action",
      "Microsoft.KeyVault/vaults/keys/unwrap/action",
    ],
  }),
  role("Managed HSM Crypto Service Encryption User", {
    dataActions: [
      "Microsoft.KeyVault/managedHsm/keys/read/action",
      "Microsoft.KeyVault/managedHsm/keys/wrap/action",
      "Microsoft.KeyVault/managedHsm/keys/unwrap/action",
    ],
  }),
  role("Managed HSM Crypto User", {
    dataActions: [
      "Microsoft.KeyVault/managedHsm/keys/read/action",
      "Microsoft.KeyVault/managedHsm/keys/write/action",
      "Microsoft.KeyVault/managedHsm/keys/deletedKeys/read/action",
      "Microsoft.KeyVault/managedHsm/keys/backup/action",
      "Microsoft.KeyVault/managedHsm/keys/restore/action",
      "Microsoft.KeyVault/managedHsm/keys/delete",
      "Microsoft.KeyVault/managedHsm/keys/create",
      "Microsoft.KeyVault/managedHsm/keys/import/action",
      "Microsoft.KeyVault/managedHsm/keys/encrypt/action",
      "Microsoft.KeyVault/managedHsm/keys/decrypt/action",
      "Microsoft.KeyVault/managedHsm/keys/wrap/action",
      "Microsoft.KeyVault/managedHsm/keys/unwrap/action",
      "Microsoft.KeyVault/managedHsm/keys/sign/action",
      "Microsoft.KeyVault/managedHsm/keys/verify/action",
      "Microsoft.KeyVault/managedHsm/keys/release/action",
      "Microsoft.KeyVault/managedHsm/rng/action",
    ],
  }),
  role("Log Analytics Reader", {
    actions: [
      "*/read",
      "Microsoft.OperationalInsights/workspaces/analytics/query/action",
      "Microsoft.OperationalInsights/workspaces/search/action",
      "Microsoft.Support/*",
    ],
    notActions: ["Microsoft.OperationalInsights/workspaces/sharedKeys/read"],
  }),
  role("DocumentDB Account Contributor", {
    actions: [
      "Microsoft.Authorization/*/read",
      "Microsoft.DocumentDb/databaseAccounts/*",
      "Microsoft.Insights/alertRules/*",
      "Microsoft.Insights/diagnosticSettings/*",
      "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
      "Microsoft.ResourceHealth/availabilityStatuses/read",
      "Microsoft.Resources/deployments/*",
      "Microsoft.Resources/subscriptions/resourceGroups/read",
      "Microsoft.Support/*",
      "Microsoft.Network/virtualNetworks/subnets/join/action",
    ],
  }),
  role("EventGrid Data Sender", {
    actions: [
      "Microsoft.Authorization/*/read",
      "Microsoft.EventGrid/topics/read",
      "Microsoft.EventGrid/domains/read",
      "Microsoft.EventGrid/partnerNamespaces/read",
      "Microsoft.Resources/subscriptions/resourceGroups/read",
      "Microsoft.EventGrid/namespaces/read",
    ],
    dataActions: ["Microsoft.EventGrid/events/send/action"],
  }),
];

const patternCache = new Map<string, RegExp>();

/** Whether an RBAC action pattern (`*` = any characters, case-insensitive) matches `action`. */
export function actionMatches(pattern: string, action: string): boolean {
  let regex = patternCache.get(pattern);
  if (!regex) {
    const body = pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*");
    regex = new RegExp(`^${body}$`, "i");
    patternCache.set(pattern, regex);
  }
  return regex.test(action);
}

function normaliseScope(scope: string): string {
  const lower = scope.trim().toLowerCase();
  return lower.length > 1 && lower.endsWith("/") ? lower.slice(0, -1) : lower;
}

/** Whether an assignment at `assignmentScope` covers `scope` (same scope or below it). */
export function scopeCovers(assignmentScope: string, scope: string): boolean {
  const outer = normaliseScope(assignmentScope);
  const inner = normaliseScope(scope);
  if (outer === "/" || outer === "") return true;
  return inner === outer || inner.startsWith(`${outer}/`);
}

/** Whether `role` grants `action` of the given kind. */
export function roleGrants(role: SandboxRoleDefinition, action: string, kind: PermissionKind): boolean {
  const allowed = kind === "control" ? role.actions : role.dataActions;
  const denied = kind === "control" ? role.notActions : role.notDataActions;
  return (
    allowed.some((pattern) => actionMatches(pattern, action)) &&
    !denied.some((pattern) => actionMatches(pattern, action))
  );
}

/** Whether the principal holds a role assignment at or above `scope` that grants `action`. */
export function isAuthorized(
  store: SandboxStore,
  principalObjectId: string,
  scope: string,
  action: string,
  kind: PermissionKind,
): boolean {
  const principal = principalObjectId.toLowerCase();
  return store.roleAssignments.some((assignment) => {
    if (assignment.principalId.toLowerCase() !== principal) return false;
    if (!scopeCovers(assignment.scope, scope)) return false;
    const definition = store.roleDefinitions.get(assignment.roleName);
    return definition !== undefined && roleGrants(definition, action, kind);
  });
}
