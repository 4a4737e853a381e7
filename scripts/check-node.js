// npm puts node_modules/.bin first on PATH, so `node` here is the Node 22 that the
// `node` devDependency installs. Refuse to run tests on anything else.
const major = Number(process.versions.node.split(".")[0]);
if (major !== 22) {
  console.error(
    `cmk-rotator needs Node 22 (the Azure Functions runtime); this is ${process.version}. Run npm install first.`,
  );
  process.exit(1);
}
