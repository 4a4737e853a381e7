import { describe, expect, it } from "vitest";
import { SandboxStore } from "../../../../sandbox/store.js";

const GROUP = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg";
const cluster = (name: string) => `${GROUP}/providers/Microsoft.DocumentDB/cassandraClusters/${name}`;

describe("the sandbox store's child resources", () => {
  it("finds a parent's children without a scan, whatever the spelling, and nobody else's", () => {
    const store = new SandboxStore({ now: () => 0 });
    const put = (id: string, type: string) => store.putArmResource({ id, type, body: {} });
    put(cluster("c1"), "Microsoft.DocumentDB/cassandraClusters");
    put(`${cluster("c1")}/dataCenters/dc-1`, "Microsoft.DocumentDB/cassandraClusters/dataCenters");
    put(`${cluster("C1")}/dataCenters/DC-2`, "Microsoft.DocumentDB/cassandraClusters/dataCenters");
    put(`${cluster("c10")}/dataCenters/dc-1`, "Microsoft.DocumentDB/cassandraClusters/dataCenters");
    // Put again (a PATCH): still one child.
    put(`${cluster("c1")}/dataCenters/dc-1`, "Microsoft.DocumentDB/cassandraClusters/dataCenters");
    expect(
      store
        .childArmResources(cluster("C1"))
        .map((resource) => resource.id.split("/").at(-1))
        .sort(),
    ).toEqual(["DC-2", "dc-1"]);
    expect(store.childArmResources(cluster("c2"))).toEqual([]);
    // A top-level resource is nobody's child.
    expect(store.childArmResources(`${GROUP}/providers/Microsoft.DocumentDB`)).toEqual([]);
  });
});
