/**
 * HTTP GET /api/dashboard (function key): the current plan per key as one HTML page that
 * reloads itself every ROTATOR_VIEW_MAX_AGE (default a minute): the views are served from an
 * observation at most that old, so reloading more often would show nothing new. Changes nothing. A failure answers a readable HTML page: 503 when the
 * service is not configured or Azure did not answer, 500 for anything unexpected.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { renderDashboard, renderDashboardError } from "../src/dashboard/renderDashboard.js";
import { AzureCallError, describeError, PayloadTooLargeError, SettingsError } from "../src/errors.js";
import { registerFunction } from "../src/hosting/functionDefinition.js";
import { loadRuntime } from "../src/hosting/lazyRuntime.js";
import type { KeyView } from "../src/plan/view.js";
import { logFromContext } from "../src/rotation/log.js";
import { refuseOversizedBody } from "../src/rotation/requestBody.js";

/** How often an error page tries again when the settings (and so ROTATOR_VIEW_MAX_AGE) are unknown. */
export const ERROR_PAGE_RETRY_SECONDS = 60;

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
      renderDashboardError("The request was refused", describeError(error), ERROR_PAGE_RETRY_SECONDS),
    );
  }
  let refreshSeconds = ERROR_PAGE_RETRY_SECONDS;
  try {
    const runtime = await loadRuntime();
    refreshSeconds = Math.max(1, Math.round(runtime.settings.viewMaxAgeMs / 1000));
    const answer = await runtime.service.currentPlan();
    const page = renderDashboard({
      // The rotation service fills `keys` with buildKeyViews' output, serialised to JSON.
      keys: answer.keys as KeyView[],
      journal: answer.journal,
      now: new Date(answer.observedAt),
      mode: answer.mode,
      ageSeconds: answer.ageSeconds,
      refreshSeconds,
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
      renderDashboardError(title, `Reading the plan failed: ${detail}`, refreshSeconds),
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
