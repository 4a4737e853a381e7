import { describe, expect, it } from "vitest";
import { parseRotateBody } from "../../../functions/rotateKey.js";
import { ConflictError, NotFoundError, ValidationError } from "../../../src/errors.js";
import { validateIdempotencyKey } from "../../../src/idempotency/idempotencyStore.js";
import { errorAnswer } from "../../../src/rotation/httpAnswers.js";
import { silentLog } from "../../../src/rotation/log.js";

describe("rotateKey request body", () => {
  it("reads reason and dryRun, dryRun defaulting to false", () => {
    expect(parseRotateBody('{"reason":" leaked "}')).toEqual({
      reason: "leaked",
      dryRun: false,
      force: false,
    });
    expect(parseRotateBody('{"reason":"drill","dryRun":true}')).toEqual({
      reason: "drill",
      dryRun: true,
      force: false,
    });
    expect(parseRotateBody('{"reason":"again","force":true}')).toEqual({
      reason: "again",
      dryRun: false,
      force: true,
    });
  });

  it.each([
    ["not JSON", "{reason"],
    ["an array", "[]"],
    ["no reason", "{}"],
    ["an empty reason", '{"reason":""}'],
    ["a reason that is not a string", '{"reason":5}'],
    ["dryRun not a boolean", '{"reason":"r","dryRun":"yes"}'],
    ["force not a boolean", '{"reason":"r","force":"yes"}'],
    ["force as a number", '{"reason":"r","force":1}'],
    ["an unknown field", '{"reason":"r","forced":true}'],
    ["a reason over 500 characters", JSON.stringify({ reason: "r".repeat(501) })],
  ])("refuses %s with a ValidationError", (_name, text) => {
    expect(() => parseRotateBody(text)).toThrow(ValidationError);
  });
});

describe("Idempotency-Key header", () => {
  it("accepts a sensible key and refuses characters Table Storage cannot key on", () => {
    expect(validateIdempotencyKey(" incident-42:retry.1 ")).toBe("incident-42:retry.1");
    expect(() => validateIdempotencyKey("a/b")).toThrow(ValidationError);
    expect(() => validateIdempotencyKey("")).toThrow(ValidationError);
    expect(() => validateIdempotencyKey("x".repeat(129))).toThrow(ValidationError);
  });
});

describe("errorAnswer", () => {
  it("maps named errors to 400, 404, 409 and anything else to 500, with the message", () => {
    expect(errorAnswer(new ValidationError("body", "bad body"), silentLog, "op")).toMatchObject({
      status: 400,
      jsonBody: { error: { code: "BadRequest", message: "bad body" } },
    });
    expect(errorAnswer(new NotFoundError("kv1", "no vault"), silentLog, "op").status).toBe(404);
    expect(errorAnswer(new ConflictError("kv1/k", "held"), silentLog, "op").status).toBe(409);
    expect(errorAnswer(new Error("boom"), silentLog, "rotating kv1/k")).toMatchObject({
      status: 500,
      jsonBody: { error: { message: expect.stringContaining("rotating kv1/k failed: boom") } },
    });
  });
});
