/**
 * Where the project's files are, found by walking up from this module to package.json,
 * so the same code works from sandbox/ (vitest) and from dist/sandbox/ (the built sandbox).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findPackageRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(directory, "package.json"))) return directory;
    const parent = dirname(directory);
    if (parent === directory) {
      throw new Error(
        `No package.json found above ${fileURLToPath(import.meta.url)}; run the sandbox from the project.`,
      );
    }
    directory = parent;
  }
}

export const packageRoot = findPackageRoot();

/** Folder for the sandbox CA and other local state (ignored by git). */
export const defaultStateDir = join(packageRoot, ".sandbox");

export const defaultEstateFile = join(packageRoot, "sandbox", "estates", "default.json");
