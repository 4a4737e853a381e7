import { describe, expect, it } from "vitest";
import { PackageError, productionPackages, unreachableBuilds } from "../../../scripts/package.js";

describe("productionPackages", () => {
  const manifest = { dependencies: { "@azure/identity": "4.14.1" } };
  const lock = {
    lockfileVersion: 3,
    packages: {
      "": { dependencies: { "@azure/identity": "4.14.1" } },
      "node_modules/@azure/identity": {},
      "node_modules/@azure/msal-node": {},
      "node_modules/@azure/identity/node_modules/tslib": {},
      "node_modules/fsevents": { optional: true },
      "node_modules/vitest": { dev: true },
      "node_modules/local-thing": { link: true },
    },
  };

  it("takes every installed package the lock does not mark dev, nested ones included", () => {
    expect(productionPackages(lock, manifest)).toEqual([
      { path: "node_modules/@azure/identity", optional: false },
      { path: "node_modules/@azure/msal-node", optional: false },
      { path: "node_modules/@azure/identity/node_modules/tslib", optional: false },
      { path: "node_modules/fsevents", optional: true },
    ]);
  });

  it("refuses a lock that no longer matches package.json", () => {
    expect(() => productionPackages(lock, { dependencies: { "@azure/identity": "4.15.0" } })).toThrow(
      PackageError,
    );
  });
});

describe("unreachableBuilds", () => {
  it("leaves out the browser, React Native and workerd builds of an Azure SDK package", () => {
    // @azure/identity 4.14's exports.
    const identity = {
      exports: {
        "./package.json": "./package.json",
        ".": {
          workerd: { types: "./dist/workerd/index.d.ts", default: "./dist/workerd/index.js" },
          browser: { types: "./dist/browser/index.d.ts", default: "./dist/browser/index.js" },
          "react-native": {
            types: "./dist/react-native/index.d.ts",
            default: "./dist/react-native/index.js",
          },
          import: { types: "./dist/esm/index.d.ts", default: "./dist/esm/index.js" },
          require: { types: "./dist/commonjs/index.d.ts", default: "./dist/commonjs/index.js" },
        },
      },
    };
    expect(unreachableBuilds(identity)).toEqual(["dist/browser", "dist/react-native", "dist/workerd"]);
  });

  it("keeps a build Node can resolve into through main, a Node condition or a subpath import", () => {
    expect(unreachableBuilds({ main: "./dist/browser/index.js" })).toEqual([
      "dist/react-native",
      "dist/workerd",
    ]);
    expect(unreachableBuilds({ exports: { ".": { node: "./dist/react-native/x.js" } } })).toEqual([
      "dist/browser",
      "dist/workerd",
    ]);
    expect(unreachableBuilds({ imports: { "#platform": { default: "./dist/workerd/p.js" } } })).toEqual([
      "dist/browser",
      "dist/react-native",
    ]);
  });
});
