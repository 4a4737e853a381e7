/**
 * HTTP POST /api/keys/{vault}/{key}/versions/{version}/restore (function key): an operator
 * enables a version again now. Body `{"reason": "..."}`. Tags the version
 * (cmk-rotator-restored-at, cmk-rotator-restored-reason), journals, publishes VersionRestored and
 * freezes retirement of the key. A compromised version may be restored this way (the operator's
 * decision; the service never does it itself). Answers 200 with the version's state; a replay
 * changes nothing; 400/404/409/413 with a clear message.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { registerFunction } from "../src/hosting/functionDefinition.js";
import { loadRuntime } from "../src/hosting/lazyRuntime.js";
import { errorAnswer, jsonAnswer } from "../src/rotation/httpAnswers.js";
import { logFromContext } from "../src/rotation/log.js";
import { OPERATOR_BODY_BYTES, parseReasonBody } from "../src/rotation/operatorBody.js";
import { readBodyText } from "../src/rotation/requestBody.js";

export async function restoreVersion(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const log = logFromContext(context);
  const { vault = "", key = "", version = "" } = request.params;
  try {
    const body = parseReasonBody(await readBodyText(request, OPERATOR_BODY_BYTES), "the version is restored");
    const { service } = await loadRuntime();
    const answer = await service.restoreVersion({ vault, key, version, reason: body.reason });
    log.info("restore answered", { key: answer.key, version: answer.version, changed: answer.changed });
    return jsonAnswer(200, answer);
  } catch (error) {
    return errorAnswer(error, log, `restore of ${vault}/${key} version ${version}`);
  }
}

export const restoreVersionFunction = registerFunction({
  kind: "http",
  name: "restoreVersion",
  route: "keys/{vault}/{key}/versions/{version}/restore",
  methods: ["POST"],
  authLevel: "function",
  handler: restoreVersion,
});
