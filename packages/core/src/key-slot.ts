/** Redis Cluster's slot count: every key hashes to one of 16384 slots. */
export const CLUSTER_SLOTS = 16384;

/** CRC16-CCITT (XMODEM) lookup table, the checksum Redis Cluster hashes keys with. */
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

const utf8 = new TextEncoder();

/**
 * The cluster slot of `key`, as CLUSTER KEYSLOT computes it: CRC16 of the key's hash tag (what
 * lies between its first `{` and the next `}`, when not empty) or of the whole key, mod 16384.
 */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of utf8.encode(hashed))
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc % CLUSTER_SLOTS;
}
