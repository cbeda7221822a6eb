import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gunzipBounded, gunzipIfGzip, GzipError, isGzip, peek } from './gzip.js';

const MIB = 1024 * 1024;
/** A bomb: 64 MiB of zeros in about 64 KiB of gzip. */
const BOMB = gzipSync(Buffer.alloc(64 * MIB));

async function* chunks(bytes: Uint8Array, size = 16 * 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts);
}

describe('isGzip', () => {
  it.each([
    [[0x1f, 0x8b, 0x08], true],
    [[0x1f, 0x8b], true],
    [[0x1f], false],
    [[], false],
    [[0x7b, 0x22], false],
  ])('GIVEN bytes %j THEN %s', (bytes, expected) => {
    expect(isGzip(Uint8Array.from(bytes))).toBe(expected);
  });
});

describe('gunzipBounded (buffers)', () => {
  it('GIVEN gzip within the cap THEN the bytes', () => {
    expect(gunzipBounded(gzipSync('hello'), { maxBytes: 5 }).toString()).toBe('hello');
  });

  it('GIVEN a gzip bomb THEN FST_GZIP_TOO_LARGE at the cap, naming it and what was read', () => {
    let err: unknown;
    try {
      gunzipBounded(BOMB, { maxBytes: MIB, what: 'ConfigMap ns/x' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GzipError);
    expect(err).toMatchObject({
      code: 'FST_GZIP_TOO_LARGE',
      errorClass: 'terminal',
      maxBytes: MIB,
    });
    expect((err as Error).message).toBe(
      `ConfigMap ns/x decompresses to more than the ${MIB}-byte cap; stopped`,
    );
  });

  it('GIVEN corrupt gzip THEN zlib’s own error, for the caller to name', () => {
    expect(() => gunzipBounded(Buffer.from([0x1f, 0x8b, 0, 0, 1, 2]), { maxBytes: MIB })).toThrow(
      expect.objectContaining({ code: expect.stringMatching(/^Z_/) }),
    );
  });
});

describe('gunzipIfGzip (streams)', () => {
  it('GIVEN a gzip bomb THEN FST_GZIP_TOO_LARGE once the decompressed bytes pass the cap', async () => {
    await expect(collect(gunzipIfGzip(chunks(BOMB), { maxBytes: MIB }))).rejects.toMatchObject({
      code: 'FST_GZIP_TOO_LARGE',
      maxBytes: MIB,
    });
  });

  it('GIVEN the magic split over 1-byte chunks THEN it is still gunzipped; plain bodies pass unchanged', async () => {
    const plain = 'a,b\n1,2\n'.repeat(50);
    await expect(
      collect(gunzipIfGzip(chunks(gzipSync(plain), 1), { maxBytes: MIB })),
    ).resolves.toEqual(Buffer.from(plain));
    await expect(collect(gunzipIfGzip(chunks(Buffer.from('x')), { maxBytes: 1 }))).resolves.toEqual(
      Buffer.from('x'),
    );
  });

  it('GIVEN a source that fails mid-stream THEN its own error surfaces', async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield gzipSync('x'.repeat(10_000)).subarray(0, 20);
      throw new Error('connection reset');
    }
    await expect(collect(gunzipIfGzip(failing(), { maxBytes: MIB }))).rejects.toThrow(
      'connection reset',
    );
  });
});

describe('peek', () => {
  it('GIVEN chunks smaller than the head THEN the head joins them and rest replays everything', async () => {
    const { head, rest } = await peek(chunks(Buffer.from('abcdef'), 1), 2);
    expect(head.toString()).toBe('ab');
    expect((await collect(rest)).toString()).toBe('abcdef');
  });
});
