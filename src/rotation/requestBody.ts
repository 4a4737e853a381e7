/**
 * One size limit for every HTTP function's request body. In Azure the Functions host accepts
 * bodies up to 100 MB (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT), far more than any request of this
 * service needs, so each function refuses more than it needs itself, with 413: a declared
 * `Content-Length` over the limit is refused before anything is read, and a body without one
 * is read only until it crosses the limit.
 */
import type { HttpRequest } from "@azure/functions";
import { PayloadTooLargeError, ValidationError } from "../errors.js";

/** What a function's request offers: the `@azure/functions` HttpRequest, or anything with its headers and body. */
export type BodyRequest = Pick<HttpRequest, "headers" | "body">;

/** The most any function of this service reads: the rotate body is a reason of at most 500 characters. */
export const MAX_REQUEST_BODY_BYTES = 16 * 1024;

function tooLarge(limitBytes: number, size: string): PayloadTooLargeError {
  return new PayloadTooLargeError(
    limitBytes,
    `the request body is ${size}; this endpoint accepts at most ${limitBytes} bytes`,
  );
}

/** Throws PayloadTooLargeError when the request declares a body over `limitBytes`; reads nothing. */
export function refuseOversizedBody(request: BodyRequest, limitBytes = MAX_REQUEST_BODY_BYTES): void {
  const declared = request.headers.get("content-length");
  if (declared === null) return;
  const length = Number(declared.trim());
  if (!/^\d+$/.test(declared.trim()) || !Number.isSafeInteger(length)) {
    throw new ValidationError("Content-Length header", "the Content-Length header is not a byte count");
  }
  if (length > limitBytes) throw tooLarge(limitBytes, `${length} bytes`);
}

/**
 * The body as UTF-8 text, at most `limitBytes`: refused by its Content-Length first, and
 * otherwise read only until it crosses the limit (the rest is never read).
 */
export async function readBodyText(
  request: BodyRequest,
  limitBytes = MAX_REQUEST_BODY_BYTES,
): Promise<string> {
  refuseOversizedBody(request, limitBytes);
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = (await reader.read()) as { done: boolean; value?: unknown };
    if (done) break;
    const chunk = value instanceof Uint8Array ? value : Buffer.from(String(value));
    size += chunk.byteLength;
    if (size > limitBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limitBytes, `over ${limitBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
