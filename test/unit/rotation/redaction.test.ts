import { HttpRequest } from "@azure/functions";
import { describe, expect, it } from "vitest";
import { PayloadTooLargeError, ValidationError } from "../../../src/errors.js";
import { jsonLine } from "../../../src/rotation/log.js";
import { redactSecrets, redactText } from "../../../src/rotation/redaction.js";
import { readBodyText, refuseOversizedBody } from "../../../src/rotation/requestBody.js";

const KEY = "q1W2e3R4t5Y6u7I8o9P0aSdFgHjKlZxC";

describe("redactText", () => {
  it.each([
    [`http://localhost:7071/api/keys?code=${KEY}`, "http://localhost:7071/api/keys?code=[redacted]"],
    [
      `/runtime/webhooks/eventgrid?functionName=f&code=${KEY}&x=1`,
      "/runtime/webhooks/eventgrid?functionName=f&code=[redacted]&x=1",
    ],
    [`x-functions-key: ${KEY}`, "x-functions-key: [redacted]"],
    [`"aeg-sas-key":"${KEY}"`, '"aeg-sas-key":"[redacted]"'],
    [`Authorization: Bearer ${KEY}`, "Authorization: [redacted] [redacted]"],
    [`calling with Bearer ${KEY}`, "calling with Bearer [redacted]"],
    [
      `DefaultEndpointsProtocol=https;AccountName=st;AccountKey=${KEY}==;`,
      "DefaultEndpointsProtocol=https;AccountName=st;AccountKey=[redacted];",
    ],
    [
      `https://st.blob.core.windows.net/c?sv=2024&sig=${KEY}%3D`,
      "https://st.blob.core.windows.net/c?sv=2024&sig=[redacted]",
    ],
  ])("redacts %s", (text, expected) => {
    expect(redactText(text)).toBe(expected);
    expect(redactText(text)).not.toContain(KEY);
  });

  it("leaves text without secrets alone", () => {
    const text =
      "repoint kusto /subscriptions/s/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx of kv-cmk-1/adx-key";
    expect(redactText(text)).toBe(text);
  });
});

describe("redactSecrets", () => {
  it("replaces secret-named fields at any depth, whatever their case", () => {
    expect(
      redactSecrets({
        path: `/api/keys?code=${KEY}`,
        headers: {
          "X-Functions-Key": KEY,
          "aeg-sas-key": KEY,
          Authorization: `Bearer ${KEY}`,
          accept: "json",
        },
        nested: [{ code: KEY }],
      }),
    ).toEqual({
      path: "/api/keys?code=[redacted]",
      headers: {
        "X-Functions-Key": "[redacted]",
        "aeg-sas-key": "[redacted]",
        Authorization: "[redacted]",
        accept: "json",
      },
      nested: [{ code: "[redacted]" }],
    });
  });

  it("is what every service log line goes through", () => {
    const line = jsonLine("error", "request failed", {
      detail: `GET https://h/api/keys?code=${KEY} failed`,
      key: "kv1/k",
    });
    expect(line).not.toContain(KEY);
    expect(JSON.parse(line)).toMatchObject({
      key: "kv1/k",
      detail: "GET https://h/api/keys?code=[redacted] failed",
    });
  });
});

function request(body: string | undefined, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({
    method: "POST",
    url: "http://localhost/api/x",
    headers,
    ...(body !== undefined ? { body: { string: body } } : {}),
  });
}

describe("request bodies", () => {
  it("refuses a declared Content-Length over the limit before reading, with 413's error", async () => {
    const declared = request(undefined, { "content-length": "5000" });
    expect(() => refuseOversizedBody(declared, 4096)).toThrow(PayloadTooLargeError);
    await expect(readBodyText(declared, 4096)).rejects.toThrow("at most 4096 bytes");
    expect(() => refuseOversizedBody(request(undefined, { "content-length": "lots" }))).toThrow(
      ValidationError,
    );
  });

  it("reads a body up to the limit, and refuses one that crosses it", async () => {
    expect(await readBodyText(request('{"reason":"r"}'), 4096)).toBe('{"reason":"r"}');
    expect(await readBodyText(request(undefined), 4096)).toBe("");
    await expect(readBodyText(request("x".repeat(4097)), 4096)).rejects.toBeInstanceOf(PayloadTooLargeError);
  });
});
