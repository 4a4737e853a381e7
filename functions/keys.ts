/**
 * HTTP GET /api/keys and /api/keys/{vault}/{key} (function key): the current plan per key
 * (versions, consumers, holds, blocks, next actions) with recent journal entries. Changes
 * nothing.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { registerFunction } from "../src/hosting/functionDefinition.js";
import { loadRuntime } from "../src/hosting/lazyRuntime.js";
import { errorAnswer, jsonAnswer } from "../src/rotation/httpAnswers.js";
import { logFromContext } from "../src/rotation/log.js";
import { refuseOversizedBody } from "../src/rotation/requestBody.js";

export async function keys(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const log = logFromContext(context);
  const vault = request.params.vault;
  const key = request.params.key;
  try {
    refuseOversizedBody(request);
    const answer = await (await loadRuntime()).service.currentPlan({
      ...(vault ? { vault } : {}),
      ...(key ? { key } : {}),
    });
    return jsonAnswer(200, answer);
  } catch (error) {
    return errorAnswer(error, log, vault && key ? `reading the plan of ${vault}/${key}` : "reading the plan");
  }
}

export const keysFunction = registerFunction({
  kind: "http",
  name: "keys",
  route: "keys/{vault?}/{key?}",
  methods: ["GET"],
  authLevel: "function",
  handler: keys,
});
