/**
 * A small reader for the zip files the production package is written as: the entries from the
 * central directory, and their contents (stored or deflated). Written apart from the writer
 * (scripts/package.js), so a test of the package checks the file, not the code that made it.
 */
import { readFileSync } from "node:fs";
import { crc32, inflateRawSync } from "node:zlib";

export interface ZipEntry {
  name: string;
  size: number;
  compressedSize: number;
  /** Unix permission bits, when the archive was made on Unix. */
  mode: number;
  read(): Buffer;
}

export function readZip(path: string): ZipEntry[] {
  const zip = readFileSync(path);
  const endAt = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endAt < 0) throw new Error(`${path} has no end of central directory: not a zip file`);
  const count = zip.readUInt16LE(endAt + 10);
  let at = zip.readUInt32LE(endAt + 16);
  const entries: ZipEntry[] = [];
  for (let index = 0; index < count; index++) {
    if (zip.readUInt32LE(at) !== 0x02014b50)
      throw new Error(`${path}: central directory entry ${index} is damaged`);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const mode = (zip.readUInt32LE(at + 38) >>> 16) & 0o777;
    const localAt = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString("utf8");
    at += 46 + nameLength + extraLength + commentLength;
    entries.push({
      name,
      size,
      compressedSize,
      mode,
      read() {
        if (zip.readUInt32LE(localAt) !== 0x04034b50) throw new Error(`${name}: local header is damaged`);
        const dataAt = localAt + 30 + zip.readUInt16LE(localAt + 26) + zip.readUInt16LE(localAt + 28);
        const raw = zip.subarray(dataAt, dataAt + compressedSize);
        const data = method === 8 ? inflateRawSync(raw) : method === 0 ? Buffer.from(raw) : undefined;
        if (!data) throw new Error(`${name}: compression method ${method} is not stored or deflate`);
        if (data.length !== size || crc32(data) !== crc)
          throw new Error(`${name}: size or CRC does not match`);
        return data;
      },
    });
  }
  return entries;
}
