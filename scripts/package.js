// `npm run package`: the production package, what a zip deploy of the function app ships.
//
//   1. build (tsc), unless --no-build;
//   2. stage in <out>/staging: host.json; package.json with `dependencies` only; the built
//      service (dist/src) and functions (dist/functions), only the .js of today's sources
//      (no source maps, nothing from dist/sandbox, dist/test or dist/bench); node_modules
//      with only the packages package-lock.json marks as production (not "dev"), without
//      what Node never loads (source maps, type declarations, Markdown, and the browser,
//      React Native and workerd builds that a package's exports give Node no way into);
//   3. zip the staging folder into <out>/cmk-rotator.zip (host.json at the root).
//
// Plain Node, no dependency: the zip is written with node:zlib (deflate and crc32).
// Options: --out DIR (default .deploy), --no-build, --json (print the summary as one JSON line).
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { crc32, deflateRawSync } from "node:zlib";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const ZIP_NAME = "cmk-rotator.zip";
/** The folders whose built .js the function app runs. */
const SHIPPED_SOURCES = ["src", "functions"];

/** What stops the packaging; main() prints it and exits 1. */
export class PackageError extends Error {}

function fail(message) {
  throw new PackageError(message);
}

function build() {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.json")], { stdio: "inherit" });
  if (result.status !== 0) fail("the build (tsc) failed");
}

function filesUnder(folder) {
  const found = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(path));
    else if (entry.isFile()) found.push(path);
  }
  return found;
}

/** dist/<folder>/**.js for every <folder>/**.ts of today's sources (stale outputs stay behind). */
function builtFiles() {
  const files = [];
  for (const folder of SHIPPED_SOURCES) {
    for (const source of filesUnder(join(root, folder))) {
      if (!source.endsWith(".ts") || source.endsWith(".d.ts")) continue;
      const built = join(root, "dist", relative(root, source)).replace(/\.ts$/, ".js");
      if (!existsSync(built)) fail(`${relative(root, built)} is missing: run npm run build first`);
      files.push(built);
    }
  }
  return files;
}

/**
 * The production packages: every package-lock.json entry under node_modules/ that is not
 * marked "dev" (npm marks a package "dev" when only devDependencies reach it). Optional
 * packages not installed on this platform are skipped, as npm skips them.
 */
export function productionPackages(lock, manifest) {
  const lockRoot = lock.packages?.[""];
  if (lock.lockfileVersion < 2 || !lockRoot) fail("package-lock.json must be lockfileVersion 2 or 3");
  const wanted = JSON.stringify(manifest.dependencies ?? {});
  if (JSON.stringify(lockRoot.dependencies ?? {}) !== wanted)
    fail("package-lock.json does not match package.json's dependencies: run npm install");
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith("node_modules/") && !entry.dev && !entry.link)
    .map(([path, entry]) => ({ path, optional: Boolean(entry.optional) }));
}

/**
 * What Node never loads from a package, so the package leaves it out: source maps, type
 * declarations and TypeScript sources, and Markdown (licences stay).
 */
const NEVER_LOADED = /\.(map|d\.[cm]?ts|[cm]?ts|md|markdown)$/i;
/** Builds for other platforms (the Azure SDK's layout), left out unless Node can resolve into them. */
const OTHER_PLATFORM_BUILDS = ["dist/browser", "dist/react-native", "dist/workerd"];
/** The package.json conditions Node resolves with (`node`, `import`, `require`, `default`). */
const NODE_CONDITIONS = new Set(["node", "import", "require", "default", "module-sync"]);

function nodeTargets(value, into) {
  if (typeof value === "string") into.push(value.replace(/^\.\//, ""));
  else if (Array.isArray(value)) for (const item of value) nodeTargets(item, into);
  else if (value && typeof value === "object") {
    for (const [key, target] of Object.entries(value)) {
      // Subpath keys ("./x", "#x") lead to conditions; of the conditions only Node's count.
      if (key.startsWith(".") || key.startsWith("#") || NODE_CONDITIONS.has(key)) nodeTargets(target, into);
    }
  }
  return into;
}

/** The folders of a package that its package.json gives Node no way into. */
export function unreachableBuilds(packageJson) {
  const targets = nodeTargets(
    [packageJson.main ?? "", packageJson.exports ?? {}, packageJson.imports ?? {}],
    [],
  );
  return OTHER_PLATFORM_BUILDS.filter((folder) => !targets.some((target) => target.startsWith(`${folder}/`)));
}

/** Copies a package folder without its own node_modules (nested packages have lock entries of their own) and without what Node never loads. */
function copyPackage(from, to) {
  let skipped = [];
  try {
    skipped = unreachableBuilds(JSON.parse(readFileSync(join(from, "package.json"), "utf8")));
  } catch {
    // No readable package.json: copy it all.
  }
  const copy = (folder) => {
    const into = join(to, relative(from, folder));
    mkdirSync(into, { recursive: true });
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const source = join(folder, entry.name);
      const inPackage = relative(from, source).split(sep).join("/");
      if (entry.name === "node_modules" || skipped.includes(inPackage)) continue;
      if (entry.isDirectory()) copy(source);
      else if (NEVER_LOADED.test(entry.name)) continue;
      else if (entry.isFile() || (entry.isSymbolicLink() && statSync(source).isFile()))
        copyFileSync(source, join(into, entry.name));
    }
  };
  copy(from);
}

function folderSize(folder) {
  return filesUnder(folder).reduce((sum, file) => sum + statSync(file).size, 0);
}

/** The deployed package.json: what the Functions host and Node read, and the production dependencies. */
function deployedManifest(manifest) {
  const { name, version, description, type, main, engines, dependencies } = manifest;
  return { name, version, description, private: true, type, main, engines, dependencies };
}

function stage(staging) {
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
  copyFileSync(join(root, "host.json"), join(staging, "host.json"));
  writeFileSync(join(staging, "package.json"), `${JSON.stringify(deployedManifest(manifest), null, 2)}\n`);
  for (const built of builtFiles()) {
    const target = join(staging, relative(root, built));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(built, target);
  }
  const packages = productionPackages(lock, manifest);
  let copied = 0;
  for (const { path, optional } of packages) {
    const installed = join(root, path);
    if (!existsSync(installed)) {
      if (optional) continue;
      fail(`${path} is a production package but is not installed: run npm install`);
    }
    copyPackage(installed, join(staging, path));
    copied += 1;
  }
  return { packages: copied };
}

// --- zip -------------------------------------------------------------------------------

const DOS_EPOCH = { time: 0, date: (0 << 9) | (1 << 5) | 1 }; // 1980-01-01 00:00, so the zip is reproducible

function localHeader(name, method, crc, compressedSize, size) {
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(20, 4); // version needed: 2.0
  header.writeUInt16LE(0x0800, 6); // UTF-8 names
  header.writeUInt16LE(method, 8);
  header.writeUInt16LE(DOS_EPOCH.time, 10);
  header.writeUInt16LE(DOS_EPOCH.date, 12);
  header.writeUInt32LE(crc, 14);
  header.writeUInt32LE(compressedSize, 18);
  header.writeUInt32LE(size, 22);
  header.writeUInt16LE(name.length, 26);
  header.writeUInt16LE(0, 28);
  return header;
}

function centralHeader(name, method, crc, compressedSize, size, offset, mode) {
  const header = Buffer.alloc(46);
  header.writeUInt32LE(0x02014b50, 0);
  header.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, zip 2.0
  header.writeUInt16LE(20, 6);
  header.writeUInt16LE(0x0800, 8);
  header.writeUInt16LE(method, 10);
  header.writeUInt16LE(DOS_EPOCH.time, 12);
  header.writeUInt16LE(DOS_EPOCH.date, 14);
  header.writeUInt32LE(crc, 16);
  header.writeUInt32LE(compressedSize, 20);
  header.writeUInt32LE(size, 24);
  header.writeUInt16LE(name.length, 28);
  header.writeUInt32LE((((mode & 0o777) | 0o100000) << 16) >>> 0, 38); // regular file with its permissions
  header.writeUInt32LE(offset, 42);
  return header;
}

/** Writes every file under `folder` into a zip at `zipPath`, paths relative to the folder. */
export function zipFolder(folder, zipPath) {
  const files = filesUnder(folder).sort();
  if (files.length >= 0xffff) fail(`${files.length} files need ZIP64, which this writer does not do`);
  const parts = [];
  const central = [];
  const entries = [];
  let offset = 0;
  for (const file of files) {
    const name = Buffer.from(relative(folder, file).split(sep).join("/"), "utf8");
    const data = readFileSync(file);
    const deflated = deflateRawSync(data, { level: 9 });
    const [method, body] = deflated.length < data.length ? [8, deflated] : [0, data];
    const crc = crc32(data);
    const local = localHeader(name, method, crc, body.length, data.length);
    parts.push(local, name, body);
    central.push(
      centralHeader(name, method, crc, body.length, data.length, offset, lstatSync(file).mode),
      name,
    );
    offset += local.length + name.length + body.length;
    entries.push({ name: name.toString("utf8"), compressedBytes: body.length });
    if (offset >= 0xffffffff) fail("the package is over 4 GiB, which needs ZIP64");
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  mkdirSync(dirname(zipPath), { recursive: true });
  writeFileSync(zipPath, Buffer.concat([...parts, directory, end]));
  return { files: files.length, entries };
}

/** Zipped bytes per top-level package (`node_modules/<name>` and what is nested in it) and for the rest. */
function zippedByPackage(entries) {
  const totals = new Map();
  for (const { name, compressedBytes } of entries) {
    const match = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(name);
    const owner = match ? match[1] : "(the app: host.json, package.json, dist)";
    totals.set(owner, (totals.get(owner) ?? 0) + compressedBytes);
  }
  return [...totals]
    .map(([owner, bytes]) => ({ owner, zippedBytes: bytes }))
    .sort((a, b) => b.zippedBytes - a.zippedBytes);
}

function main() {
  const { values } = parseArgs({
    options: { out: { type: "string" }, "no-build": { type: "boolean" }, json: { type: "boolean" } },
    strict: true,
  });
  const out = resolve(values.out ?? join(root, ".deploy"));
  if (!values["no-build"]) build();
  const staging = join(out, "staging");
  const { packages } = stage(staging);
  const zipPath = join(out, ZIP_NAME);
  const { files, entries } = zipFolder(staging, zipPath);
  const summary = {
    zip: zipPath,
    zipBytes: statSync(zipPath).size,
    files,
    stagedBytes: folderSize(staging),
    nodeModulesBytes: folderSize(join(staging, "node_modules")),
    productionPackages: packages,
    largest: zippedByPackage(entries).slice(0, 6),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    process.stdout.write(
      `${relative(process.cwd(), zipPath) || zipPath}: ${mb(summary.zipBytes)} (${files} files; ${mb(summary.stagedBytes)} unpacked, of which node_modules ${mb(summary.nodeModulesBytes)} in ${packages} production packages)\n`,
    );
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (error) {
    if (!(error instanceof PackageError)) throw error;
    process.stderr.write(`npm run package: ${error.message}\n`);
    process.exit(1);
  }
}
