import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gunzipIfCompressed, jsonSyntaxErrorOffset, readJsonBody } from './body.js';
import { bytesBody } from './testdata/support.js';

async function text(body: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(Buffer.from(c));
  return Buffer.concat(parts).toString('utf8');
}

describe('jsonSyntaxErrorOffset', () => {
  it.each([
    ['{"a":1}', undefined],
    ['  [1, -2.5e+3, true, null, "x\\u00e9"] ', undefined],
    ['{"a":1', 6],
    ['{"a":1,}', 7],
    ['[1 2]', 3],
    ['{"a": tru}', 9],
    ['[01]', 2],
    ['{"a":1} x', 8],
    ['"\\q"', 2],
    ['"a\nb"', 2],
    ['', 0],
  ])('GIVEN %j THEN the first error is at byte %s', (json, offset) => {
    expect(jsonSyntaxErrorOffset(Buffer.from(json))).toBe(offset);
  });

  it('GIVEN multi-byte characters before the error THEN the offset counts bytes, not characters', () => {
    // "é" and "✓" are 2 and 3 bytes: the stray x is at byte 14, character 11.
    expect(jsonSyntaxErrorOffset(Buffer.from('{"k":"é✓", x}'))).toBe(14);
  });
});

describe('readJsonBody', () => {
  it('GIVEN a body with a UTF-8 byte-order mark split across chunks THEN it parses', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"ok":true}')]);
    await expect(readJsonBody(bytesBody(bytes, 2), 'x')).resolves.toEqual({ ok: true });
  });

  it('GIVEN a broken body after a byte-order mark THEN the offset counts from the first byte received', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('[1,]')]);
    await expect(readJsonBody(bytesBody(bytes), 'x')).rejects.toThrow(
      "x: body is not JSON: Unexpected token ']' at byte 6",
    );
  });
});

describe('gunzipIfCompressed', () => {
  it('GIVEN a gzip body whose magic bytes arrive in separate 1-byte chunks THEN it is decompressed', async () => {
    const plain = 'cve,epss,percentile\nCVE-2024-3400,0.9,0.99\n'.repeat(100);
    await expect(text(gunzipIfCompressed(bytesBody(gzipSync(plain), 1)))).resolves.toBe(plain);
  });

  it('GIVEN a plain body THEN it passes through unchanged, including a 1-byte body', async () => {
    await expect(text(gunzipIfCompressed(bytesBody('a,b\n1,2\n', 1)))).resolves.toBe('a,b\n1,2\n');
    await expect(text(gunzipIfCompressed(bytesBody('x')))).resolves.toBe('x');
  });

  it('GIVEN a gzip body cut short THEN reading it fails', async () => {
    const gz = gzipSync('x'.repeat(10_000));
    await expect(
      text(gunzipIfCompressed(bytesBody(gz.subarray(0, gz.length - 10)))),
    ).rejects.toThrow('unexpected end of file');
  });
});
