/** What the rotator's table holds in its lease partition: the keys someone still holds a lease on. */
import { odata } from "@azure/data-tables";
import { fromTableKey, openRotatorTable, type RotatorTable } from "../../src/journal/rotatorTable.js";
import { LEASE_PARTITION } from "../../src/lock/keyLease.js";
import type { Settings } from "../../src/settings.js";

export async function leasesLeft(table: RotatorTable): Promise<string[]> {
  await table.ready();
  const keys: string[] = [];
  for await (const entity of table.client.listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${LEASE_PARTITION}` },
  })) {
    keys.push(fromTableKey(String(entity.rowKey)));
  }
  return keys.sort();
}

/** The table a runtime's settings name (a connection string: Azurite in tests). */
export function tableOfSettings(settings: Settings): RotatorTable {
  if (settings.journal.kind !== "connectionString")
    throw new Error("tests reach the journal table through a connection string");
  return openRotatorTable({
    connectionString: settings.journal.connectionString,
    tableName: settings.journalTable,
  });
}
