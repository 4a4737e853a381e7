import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Upper bounds for a hang, not speed targets: under load the integration tests' generous
    // waits (a minute and more) must fit inside.
    testTimeout: 420_000,
    hookTimeout: 420_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
