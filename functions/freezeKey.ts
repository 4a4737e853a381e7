/**
 * HTTP POST /api/keys/{vault}/{key}/freeze (function key): an operator freezes retirement of a key: nothing of it retires until it is unfrozen (hold `retirement-frozen`).
 * Body `{"reason": "..."}`. Answers 200 with the key's freeze (`frozen`, `changed`); a replay
 * changes nothing; 400/404/409/413 with a clear message.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { registerFunction } from "../src/hosting/functionDefinition.js";
import { loadRuntime } from "../src/hosting/lazyRuntime.js";
import { errorAnswer, jsonAnswer } from "../src/rotation/httpAnswers.js";
import { logFromContext } from "../src/rotation/log.js";
import { OPERATOR_BODY_BYTES, parseReasonBody } from "../src/rotation/operatorBody.js";
import { readBodyText } from "../src/rotation/requestBody.js";

export async function freezeKey(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const log = logFromContext(context);
  const { vault = "", key = "" } = request.params;
  try {
    const body = parseReasonBody(
      await readBodyText(request, OPERATOR_BODY_BYTES),
      "retirement of the key is frozen",
    );
    const { service } = await loadRuntime();
    const answer = await service.freezeKey({ vault, key, reason: body.reason });
    log.info("freeze answered", { key: answer.key, changed: answer.changed });
    return jsonAnswer(200, answer);
  } catch (error) {
    return errorAnswer(error, log, `freeze of ${vault}/${key}`);
  }
}

export const freezeKeyFunction = registerFunction({
  kind: "http",
  name: "freezeKey",
  route: "keys/{vault}/{key}/freeze",
  methods: ["POST"],
  authLevel: "function",
  handler: freezeKey,
});
