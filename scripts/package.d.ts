// Types of what scripts/package.js exports, for the tests that import it.
export declare const ZIP_NAME: string;
export declare class PackageError extends Error {}
export interface LockEntry {
  dev?: boolean;
  optional?: boolean;
  link?: boolean;
  dependencies?: Record<string, string>;
}
export declare function productionPackages(
  lock: { lockfileVersion: number; packages: Record<string, LockEntry> },
  manifest: { dependencies?: Record<string, string> },
): { path: string; optional: boolean }[];
export declare function unreachableBuilds(packageJson: Record<string, unknown>): string[];
export declare function zipFolder(
  folder: string,
  zipPath: string,
): { files: number; entries: { name: string; compressedBytes: number }[] };
/** What `node scripts/package.js --json` prints. */
export interface PackageSummary {
  zip: string;
  zipBytes: number;
  files: number;
  stagedBytes: number;
  nodeModulesBytes: number;
  productionPackages: number;
  largest: { owner: string; zippedBytes: number }[];
}
