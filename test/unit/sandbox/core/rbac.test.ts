import { describe, expect, it } from "vitest";
import type { SandboxRoleDefinition } from "../../../../sandbox/model.js";
import {
  actionMatches,
  builtInRoleDefinitions,
  isAuthorized,
  scopeCovers,
} from "../../../../sandbox/rbac.js";
import { SandboxStore } from "../../../../sandbox/store.js";

const VAULT = "/subscriptions/s1/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv1";
const KEY = `${VAULT}/keys/k1`;
const PRINCIPAL = "aaaaaaaa-0000-0000-0000-000000000001";

function storeWith(
  assignments: { role: string; scope: string; principal?: string }[],
  custom: SandboxRoleDefinition[] = [],
) {
  const store = new SandboxStore({ now: () => 0 });
  for (const role of [...builtInRoleDefinitions, ...custom]) store.roleDefinitions.set(role.roleName, role);
  for (const assignment of assignments) {
    store.roleAssignments.push({
      principalId: assignment.principal ?? PRINCIPAL,
      roleName: assignment.role,
      scope: assignment.scope,
    });
  }
  return store;
}

describe("action patterns", () => {
  it.each([
    ["Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/read", true],
    ["microsoft.keyvault/vaults/keys/READ", "Microsoft.KeyVault/vaults/keys/read", true],
    ["Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keys/unwrap/action", true],
    ["*/read", "Microsoft.Kusto/clusters/read", true],
    ["*/read", "Microsoft.Kusto/clusters/write", false],
    ["Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/read", true],
    ["Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/readx", false],
    ["Microsoft.Key.Vault/*", "MicrosoftXKeyVault/x", false],
  ])("%s matches %s: %s", (pattern, action, expected) => {
    expect(actionMatches(pattern, action)).toBe(expected);
  });
});

describe("scopes", () => {
  it("covers the same scope and anything below it at a path boundary, case-insensitively", () => {
    expect(scopeCovers(VAULT, KEY)).toBe(true);
    expect(scopeCovers(VAULT.toLowerCase(), KEY)).toBe(true);
    expect(scopeCovers(`${VAULT}/`, VAULT)).toBe(true);
    expect(scopeCovers("/subscriptions/s1", KEY)).toBe(true);
    expect(scopeCovers("/", KEY)).toBe(true);
    expect(scopeCovers(`${VAULT}2`, `${VAULT}2/keys/k1`)).toBe(true);
    expect(scopeCovers(VAULT, `${VAULT}2/keys/k1`)).toBe(false);
    expect(scopeCovers(KEY, VAULT)).toBe(false);
  });
});

describe("isAuthorized", () => {
  it("grants a built-in role's data actions on the assignment scope and below only", () => {
    const store = storeWith([{ role: "Key Vault Crypto Service Encryption User", scope: KEY }]);
    expect(isAuthorized(store, PRINCIPAL, KEY, "Microsoft.KeyVault/vaults/keys/unwrap/action", "data")).toBe(
      true,
    );
    expect(
      isAuthorized(
        store,
        PRINCIPAL,
        `${VAULT}/keys/k2`,
        "Microsoft.KeyVault/vaults/keys/unwrap/action",
        "data",
      ),
    ).toBe(false);
    expect(isAuthorized(store, PRINCIPAL, KEY, "Microsoft.KeyVault/vaults/keys/create/action", "data")).toBe(
      false,
    );
  });

  it("keeps control and data planes apart", () => {
    const store = storeWith([{ role: "Owner", scope: "/subscriptions/s1" }]);
    expect(isAuthorized(store, PRINCIPAL, VAULT, "Microsoft.KeyVault/vaults/write", "control")).toBe(true);
    expect(isAuthorized(store, PRINCIPAL, KEY, "Microsoft.KeyVault/vaults/keys/read", "data")).toBe(false);
  });

  it("subtracts notActions and notDataActions of the same role", () => {
    const store = storeWith(
      [
        { role: "Contributor", scope: "/subscriptions/s1" },
        { role: "All keys but unwrap", scope: VAULT },
      ],
      [
        {
          roleName: "All keys but unwrap",
          actions: [],
          notActions: [],
          dataActions: ["Microsoft.KeyVault/vaults/keys/*"],
          notDataActions: ["Microsoft.KeyVault/vaults/keys/unwrap/action"],
        },
      ],
    );
    expect(
      isAuthorized(store, PRINCIPAL, VAULT, "Microsoft.Authorization/roleAssignments/write", "control"),
    ).toBe(false);
    expect(isAuthorized(store, PRINCIPAL, VAULT, "Microsoft.Kusto/clusters/write", "control")).toBe(true);
    expect(isAuthorized(store, PRINCIPAL, KEY, "Microsoft.KeyVault/vaults/keys/wrap/action", "data")).toBe(
      true,
    );
    expect(isAuthorized(store, PRINCIPAL, KEY, "Microsoft.KeyVault/vaults/keys/unwrap/action", "data")).toBe(
      false,
    );
  });

  it("ignores other principals' assignments and unknown roles", () => {
    const store = storeWith([
      { role: "Key Vault Administrator", scope: VAULT, principal: "someone-else" },
      { role: "No Such Role", scope: VAULT },
    ]);
    expect(isAuthorized(store, PRINCIPAL, KEY, "Microsoft.KeyVault/vaults/keys/read", "data")).toBe(false);
  });

  it("matches principal ids case-insensitively", () => {
    const store = storeWith([{ role: "Reader", scope: "/subscriptions/s1" }]);
    expect(
      isAuthorized(store, PRINCIPAL.toUpperCase(), VAULT, "Microsoft.KeyVault/vaults/read", "control"),
    ).toBe(true);
  });

  it("gives Managed HSM roles only HSM data actions", () => {
    const hsm = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/managedHSMs/h1";
    const store = storeWith([{ role: "Managed HSM Crypto Service Encryption User", scope: hsm }]);
    expect(
      isAuthorized(
        store,
        PRINCIPAL,
        `${hsm}/keys/k`,
        "Microsoft.KeyVault/managedHsm/keys/unwrap/action",
        "data",
      ),
    ).toBe(true);
    expect(
      isAuthorized(store, PRINCIPAL, `${hsm}/keys/k`, "Microsoft.KeyVault/vaults/keys/unwrap/action", "data"),
    ).toBe(false);
  });
});
