import { describe, expect, it } from "vitest";
import { renderDashboard } from "../../../src/dashboard/renderDashboard.js";
import { NOW } from "../../builders/index.js";

describe("dashboard: cached observations", () => {
  it("shows how old the observation is and reloads at the interval it is given", () => {
    const page = renderDashboard({
      keys: [],
      journal: {},
      now: NOW,
      mode: "enforce",
      ageSeconds: 42,
      refreshSeconds: 60,
    });
    expect(page).toContain('<span data-testid="observation-age">(42 s ago)</span>');
    expect(page).toContain('<meta http-equiv="refresh" content="60">');
    expect(page).toContain("refreshes every 60 s");
  });

  it("says an observation just made is new", () => {
    const page = renderDashboard({
      keys: [],
      journal: {},
      now: NOW,
      mode: "enforce",
      ageSeconds: 0,
      refreshSeconds: 5,
    });
    expect(page).toContain("(just now)");
  });
});
