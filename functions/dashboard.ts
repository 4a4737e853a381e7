/**
 * HTTP GET /api/dashboard (function key): the current plan per key as one HTML page that
 * refreshes itself. Changes nothing. A failure answers a readable HTML page: 503 when the
 * service is not configured or Azure did not answer, 500 for anything unexpected.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { renderDashboard, renderDashboardError } from "../src/dashboard/renderDashboard.js";
import { AzureCallError, describeError, PayloadTooLargeError, SettingsError } from "../src/errors.js";
import { registerFunction } from "../src/hosting/functionDefinition.js";
import type { KeyView } from "../src/plan/view.js";
import { logFromContext } from "../src/rotation/log.js";
import { refuseOversizedBody } from "../src/rotation/requestBody.js";
import { getRuntime } from "../src/runtime.js";

export const DASHBOARD_REFRESH_SECONDS = 5;

function htmlAnswer(status: number, body: string): HttpResponseInit {
  return {
    status,
    body,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  };
}

export async function dashboard(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const log = logFromContext(context);
  try {
    refuseOversizedBody(request);
  } catch (error) {
    const status = error instanceof PayloadTooLargeError ? 413 : 400;
    return htmlAnswer(
      status,
      renderDashboardError("The request was refused", describeError(error), DASHBOARD_REFRESH_SECONDS),
    );
  }
  try {
    const answer = await getRuntime().service.currentPlan();
    const page = renderDashboard({
      // The rotation service fills `keys` with buildKeyViews' output, serialised to JSON.
      keys: answer.keys as KeyView[],
      journal: answer.journal,
      now: new Date(answer.observedAt),
      mode: answer.mode,
      refreshSeconds: DASHBOARD_REFRESH_SECONDS,
    });
    return htmlAnswer(200, page);
  } catch (error) {
    const detail = describeError(error);
    const unavailable = error instanceof SettingsError || error instanceof AzureCallError;
    log.error("rendering the dashboard failed", {
      detail,
      kind: error instanceof SettingsError ? "settings" : unavailable ? "azure" : "unexpected",
    });
    const title =
      error instanceof SettingsError
        ? "The service is not configured"
        : unavailable
          ? "Azure did not answer"
          : "The dashboard failed";
    return htmlAnswer(
      unavailable ? 503 : 500,
      renderDashboardError(title, `Reading the plan failed: ${detail}`, DASHBOARD_REFRESH_SECONDS),
    );
  }
}

export const dashboardFunction = registerFunction({
  kind: "http",
  name: "dashboard",
  route: "dashboard",
  methods: ["GET"],
  authLevel: "function",
  handler: dashboard,
});
