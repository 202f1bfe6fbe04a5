// gzip through the Compression Streams API, present in browsers, Deno and Node >= 18, so .jsonl.gz
// can be read from bytes anywhere (no node:zlib in core code).

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export async function gunzip(bytes: Uint8Array, source: string): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(`${source}: gzip data is damaged (${(e as Error).message})`);
  }
}
