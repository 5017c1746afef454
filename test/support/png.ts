import zlib from 'node:zlib';

/**
 * The width and height of a PNG, read from its header; throws unless the bytes start with
 * the PNG signature followed by an IHDR chunk (what every decoder checks first).
 */
export function pngSize(bytes: Uint8Array): { width: number; height: number } {
  const buf = Buffer.from(bytes);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (buf.length < 33 || !buf.subarray(0, 8).equals(signature)) {
    throw new Error('not a PNG: the signature is missing');
  }
  if (buf.readUInt32BE(8) !== 13 || buf.toString('latin1', 12, 16) !== 'IHDR') {
    throw new Error('not a PNG: the first chunk is not IHDR');
  }
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

/**
 * Decodes a non-interlaced 8-bit PNG far enough to prove a viewer could show it: every
 * chunk's CRC matches, the IDAT stream inflates, and it holds exactly one filter byte plus
 * one row of pixels per scanline with valid filter types. Returns the pixel rows' length.
 */
export function decodePng(bytes: Uint8Array): { width: number; height: number; pixels: number } {
  const buf = Buffer.from(bytes);
  const { width, height } = pngSize(buf);
  const bitDepth = buf.readUInt8(24);
  const colourType = buf.readUInt8(25);
  const channels: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
  const perPixel = channels[colourType];
  if (bitDepth !== 8 || perPixel === undefined) {
    throw new Error(`unsupported PNG: depth ${bitDepth}, colour type ${colourType}`);
  }
  const idat: Buffer[] = [];
  let offset = 8;
  let ended = false;
  while (offset < buf.length) {
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const body = buf.subarray(offset + 8, offset + 8 + length);
    const crc = buf.readUInt32BE(offset + 8 + length);
    if (zlib.crc32(buf.subarray(offset + 4, offset + 8 + length)) !== crc) {
      throw new Error(`bad CRC on ${type}`);
    }
    if (type === 'IDAT') idat.push(body);
    offset += 12 + length;
    if (type === 'IEND') {
      ended = true;
      break;
    }
  }
  if (!ended) throw new Error('not a PNG: no IEND chunk');
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = 1 + width * perPixel;
  if (raw.length !== stride * height) {
    throw new Error(`IDAT holds ${raw.length} bytes, expected ${stride * height}`);
  }
  for (let row = 0; row < height; row++) {
    if ((raw[row * stride] ?? 255) > 4) throw new Error(`row ${row}: bad filter type`);
  }
  return { width, height, pixels: width * height };
}
