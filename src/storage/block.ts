/**
 * block.ts — the checksummed envelope around every value otlpdb writes to a
 * shard's LevelDB (span blocks, log blocks, indexes, blooms, the idempotency
 * window): a value is either returned exactly as sealed or refused with
 * ERR_CORRUPTION that names what mismatched. Pure code, no I/O.
 *
 * Layout (all integers big-endian), BLOCK_HEADER_BYTES = 12:
 *
 *   0      2         3        4                8             12
 *   +------+---------+--------+----------------+-------------+-----------------+
 *   | magic| version |  kind  |  payloadBytes  |   crc32c    | payload ...     |
 *   | u16  |   u8    |   u8   |      u32       |    u32      | payloadBytes B  |
 *   +------+---------+--------+----------------+-------------+-----------------+
 *
 * The CRC-32C covers bytes [0, 8) of the header (magic, version, kind,
 * payloadBytes) followed by the payload, so a flipped kind or length is caught
 * by the checksum as well as by the explicit checks.
 */
import { OtlpdbError, assert } from '../errors.js';
import { StorageLimits } from '../limits.js';
import { crc32c } from '../raft/wal/index.js';

/** BLOCK_MAGIC marks an otlpdb storage block ("ob"). */
export const BLOCK_MAGIC = 0x6f62;
/** BLOCK_VERSION is the envelope version this code writes and reads. */
export const BLOCK_VERSION = 1;
/** BLOCK_HEADER_BYTES is the size of the envelope header. */
export const BLOCK_HEADER_BYTES = 12;

/**
 * BlockKind names what a block holds; the value is stored in the kind byte.
 * Values are stable: never renumber, only append.
 */
export const BlockKind = {
  spans: 1,
  logs: 2,
  metricChunk: 3,
  traceIndex: 4,
  postings: 5,
  bloom: 6,
  idempotencyWindow: 7,
  blockMeta: 8,
  shardMeta: 9,
  /** metricSeries .. metricStats are the metrics store's values (src/storage/metrics/store-format.ts); numbered from 32 to stay clear of other stores' additions. */
  metricSeries: 32,
  metricLastT: 33,
  metricRecords: 34,
  metricExemplars: 35,
  metricRollup: 36,
  metricStats: 37,
  /** metricChunkBlock is the float samples of one id page of series in one bucket, with shared timestamp columns (metrics/chunk-block.ts). */
  metricChunkBlock: 38,
  /** metricDescriptions is the descriptions of one page of metric series (metrics/series-descriptions.ts). */
  metricDescriptions: 39,
} as const;

/** BlockKindValue is one of the BlockKind numbers. */
export type BlockKindValue = (typeof BlockKind)[keyof typeof BlockKind];

const KIND_VALUES: ReadonlySet<number> = new Set(Object.values(BlockKind));

/** sealBlock wraps `payload` in the envelope: header with length and CRC-32C, then the payload bytes (copied). */
export function sealBlock(kind: BlockKindValue, payload: Uint8Array): Uint8Array {
  assert(KIND_VALUES.has(kind), 'sealBlock kind is a BlockKind');
  if (payload.length > StorageLimits.blockPayloadBytesMax) {
    throw new OtlpdbError(
      'ERR_LIMIT_EXCEEDED',
      `block payload of ${payload.length} bytes exceeds StorageLimits.blockPayloadBytesMax (${StorageLimits.blockPayloadBytesMax})`,
    );
  }
  const out = new Uint8Array(BLOCK_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint16(0, BLOCK_MAGIC);
  view.setUint8(2, BLOCK_VERSION);
  view.setUint8(3, kind);
  view.setUint32(4, payload.length);
  out.set(payload, BLOCK_HEADER_BYTES);
  view.setUint32(8, blockCrc(out));
  assert(out.length === BLOCK_HEADER_BYTES + payload.length, 'sealed block length');
  return out;
}

/**
 * openBlock verifies a sealed block and returns its payload (a view into
 * `bytes`, not a copy). Every mismatch — magic, version, kind, declared
 * length against actual length, checksum — throws ERR_CORRUPTION whose
 * message and details name the field; no bytes are returned on a mismatch.
 */
export function openBlock(bytes: Uint8Array, expectedKind: BlockKindValue): Uint8Array {
  assert(KIND_VALUES.has(expectedKind), 'openBlock expectedKind is a BlockKind');
  if (bytes.length < BLOCK_HEADER_BYTES) {
    throw corrupt(`block of ${bytes.length} bytes is shorter than its ${BLOCK_HEADER_BYTES}-byte header`, {
      field: 'length',
      actual: bytes.length,
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint16(0);
  if (magic !== BLOCK_MAGIC) throw corrupt(`block magic 0x${magic.toString(16)} is not 0x${BLOCK_MAGIC.toString(16)}`, { field: 'magic', actual: magic });
  const version = view.getUint8(2);
  if (version !== BLOCK_VERSION) throw corrupt(`block version ${version} is not ${BLOCK_VERSION}`, { field: 'version', actual: version });
  const kind = view.getUint8(3);
  if (kind !== expectedKind) throw corrupt(`block kind ${kind} is not the expected ${expectedKind}`, { field: 'kind', actual: kind, expected: expectedKind });
  const payloadBytes = view.getUint32(4);
  if (payloadBytes !== bytes.length - BLOCK_HEADER_BYTES) {
    throw corrupt(`block declares ${payloadBytes} payload bytes but holds ${bytes.length - BLOCK_HEADER_BYTES}`, {
      field: 'payloadBytes',
      actual: bytes.length - BLOCK_HEADER_BYTES,
      expected: payloadBytes,
    });
  }
  const stored = view.getUint32(8);
  const computed = blockCrc(bytes);
  if (stored !== computed) {
    throw corrupt(`block checksum 0x${stored.toString(16)} does not match the computed 0x${computed.toString(16)}`, {
      field: 'crc32c',
      actual: computed,
      expected: stored,
    });
  }
  return bytes.subarray(BLOCK_HEADER_BYTES);
}

/** blockCrc is the CRC-32C of header bytes [0, 8) and then the payload. */
function blockCrc(bytes: Uint8Array): number {
  return crc32c(bytes, BLOCK_HEADER_BYTES, bytes.length, crc32c(bytes, 0, 8));
}

function corrupt(message: string, details: Record<string, unknown>): OtlpdbError {
  return new OtlpdbError('ERR_CORRUPTION', message, details);
}
