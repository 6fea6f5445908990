import t from 'tap';
import { CrashFileSystem } from '../../fs/crash-file-system.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { isOtlpdbError } from '../../errors.js';
import { WalLimits } from '../../limits.js';
import { Wal } from './wal.js';
import type { Model, Op } from './wal-test-util.js';
import { applyOp, applyToWal, cloneModel, ent, ents, normalModel } from './wal-test-util.js';
import { SEGMENT_HEADER_BYTES, encodeSegmentHeader, scanSegment, segmentFileName } from './segment-file.js';
import { ByteWriter, RECORD_HEADER_BYTES, RecordType, beginRecord, finishRecord } from './record-format.js';
import { MANIFEST_FILE } from './manifest.js';

const DIR = '/wal';
const SEG1 = `${DIR}/${segmentFileName(1)}`;

function newFs(): CrashFileSystem {
  return new CrashFileSystem(new SeededRand(1));
}

/** plant writes `files` durably into a fresh file system, as if a previous run had left them. */
async function plant(files: ReadonlyMap<string, Uint8Array>): Promise<CrashFileSystem> {
  const fs = newFs();
  await fs.mkdirp(DIR);
  await fs.fsyncDir('/');
  for (const [name, bytes] of files) {
    const f = await fs.open(`${DIR}/${name}`, 'truncate');
    await f.append(bytes);
    await f.sync();
    await f.close();
  }
  await fs.fsyncDir(DIR);
  return fs;
}

/** recordOffsets lists where each record of a segment starts, plus the end of the last one. */
function recordBoundaries(bytes: Uint8Array, seq: number): number[] {
  const scan = scanSegment(bytes, 'x', seq, true, WalLimits.recordBytesMax);
  return [...scan.records.map((r) => r.offsetBytes), scan.validBytes];
}

/**
 * writeOneRecordPerSync runs `ops` with a sync after each (one record each)
 * and returns the segment bytes and the model after each prefix of records.
 */
async function writeOneRecordPerSync(ops: readonly Op[]): Promise<{ bytes: Uint8Array; models: Model[] }> {
  const fs = newFs();
  const { wal } = await Wal.open(fs, DIR);
  const model: Model = new Map();
  const models: Model[] = [cloneModel(model)];
  for (const op of ops) {
    applyToWal(wal, op);
    applyOp(model, op);
    await wal.sync();
    models.push(cloneModel(model));
  }
  await wal.close();
  return { bytes: await fs.readFile(SEG1, 1 << 20), models };
}

const OPS: Op[] = [
  { kind: 'append', group: 1, entries: ents(1, 3, 1) },
  { kind: 'hardState', group: 1, hardState: { term: 1, vote: 1, commit: 2 } },
  { kind: 'append', group: 2, entries: ents(1, 2, 1) },
  { kind: 'append', group: 1, entries: [ent(4, 1, 'a longer payload to tear in many places')] },
  { kind: 'hardState', group: 2, hardState: { term: 2, vote: 2, commit: 1 } },
  { kind: 'append', group: 1, entries: ents(3, 5, 2) },
  { kind: 'compact', group: 2, index: 1 },
];

t.test('truncating the WAL at every byte offset of the last records recovers exactly the whole records before it', async (t) => {
  const { bytes, models } = await writeOneRecordPerSync(OPS);
  const bounds = recordBoundaries(bytes, 1);
  t.equal(bounds.length, OPS.length + 1, 'one record per op');
  const from = bounds[bounds.length - 5] as number;
  let checked = 0;
  for (let cut = from; cut <= bytes.length; cut++) {
    const fs = await plant(new Map([[segmentFileName(1), bytes.slice(0, cut)]]));
    const { wal, recovery } = await Wal.open(fs, DIR);
    const whole = bounds.filter((b) => b <= cut).length - 1; // records entirely before the cut
    const expected = models[whole] as Model;
    if (normalModel(recovery.groups) !== normalModel(expected)) {
      t.fail(`cut at ${cut}: recovered ${normalModel(recovery.groups)}, expected ${normalModel(expected)}`);
      continue;
    }
    const atBoundary = bounds.includes(cut);
    if (atBoundary !== (recovery.tailTruncation === null)) t.fail(`cut at ${cut}: tail truncation reported iff the cut is inside a record`);
    const sizeNow = await fs.sizeBytes(SEG1);
    if (sizeNow !== (bounds[whole] as number)) t.fail(`cut at ${cut}: file truncated to ${sizeNow}, not to ${bounds[whole]}`);
    // The WAL keeps working after the truncation, and what it writes next is readable.
    wal.appendEntries(9, ents(1, 1, 1));
    await wal.sync();
    await wal.close();
    const again = await Wal.open(fs, DIR);
    if (again.recovery.groups.get(9)?.entries.length !== 1) t.fail(`cut at ${cut}: an append after recovery was lost`);
    checked++;
  }
  t.equal(checked, bytes.length - from + 1, `all ${checked} cut points recovered the exact prefix`);
});

t.test('a flipped bit in the tail record truncates it and reports the event', async (t) => {
  const { bytes, models } = await writeOneRecordPerSync(OPS);
  const bounds = recordBoundaries(bytes, 1);
  const lastStart = bounds[bounds.length - 2] as number;
  for (let pos = lastStart; pos < bytes.length; pos++) {
    const bad = bytes.slice();
    bad[pos] = (bad[pos] as number) ^ 0x10;
    const fs = await plant(new Map([[segmentFileName(1), bad]]));
    const { recovery } = await Wal.open(fs, DIR);
    if (recovery.tailTruncation?.offsetBytes !== lastStart) t.fail(`flip at ${pos}: tail truncation at ${lastStart} not reported`);
    if (normalModel(recovery.groups) !== normalModel(models[OPS.length - 1] as Model)) t.fail(`flip at ${pos}: wrong state`);
  }
  t.pass(`every bit flip in the last record (${bytes.length - lastStart} positions) is truncated and reported`);
});

t.test('a flipped bit in a record followed by valid records refuses to open, naming the file and offset', async (t) => {
  const { bytes } = await writeOneRecordPerSync(OPS);
  const bounds = recordBoundaries(bytes, 1);
  for (let r = 0; r < OPS.length - 1; r++) {
    const start = bounds[r] as number;
    const end = bounds[r + 1] as number;
    let refused = 0;
    for (let pos = start; pos < end; pos++) {
      const bad = bytes.slice();
      bad[pos] = (bad[pos] as number) ^ 0x01;
      const fs = await plant(new Map([[segmentFileName(1), bad]]));
      try {
        await Wal.open(fs, DIR);
        t.fail(`flip at ${pos} in record ${r} was not detected`);
      } catch (err) {
        if (isOtlpdbError(err, 'ERR_CORRUPTION') && err.details.file === SEG1 && err.details.offsetBytes === start) refused++;
        else t.fail(`flip at ${pos}: wrong error ${String(err)}`);
      }
    }
    t.equal(refused, end - start, `record ${r} at byte ${start}: every flip refused with file and offset`);
  }
  const bad = bytes.slice();
  const at = (bounds[2] as number) + RECORD_HEADER_BYTES + 3;
  bad[at] = (bad[at] as number) ^ 0x04;
  const fs = await plant(new Map([[segmentFileName(1), bad]]));
  await t.rejects(Wal.open(fs, DIR), { code: 'ERR_CORRUPTION', message: new RegExp(`${SEG1} is corrupt at byte ${bounds[2]}`) }, 'the message names file and offset');
});

t.test('a flipped bit in an earlier segment refuses to open, even in its last record', async (t) => {
  const fs = newFs();
  const { wal } = await Wal.open(fs, DIR, { segmentBytesMax: 200 });
  for (let i = 1; i <= 30; i++) {
    wal.appendEntries(1, [ent(i, 1, 'payload-of-some-length')]);
    await wal.sync();
  }
  await wal.close();
  t.ok(wal.segmentCount >= 3, 'several segments');
  const names = (await fs.readdir(DIR)).filter((n) => n.endsWith('.wal'));
  const seg2 = await fs.readFile(`${DIR}/${names[1]}`, 1 << 20);
  const bounds = recordBoundaries(seg2, 2);
  for (const [what, pos] of [
    ['first record', SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES + 2],
    ['last record', seg2.length - 1],
    ['last record length field', bounds[bounds.length - 2] as number],
  ] as const) {
    const files = new Map<string, Uint8Array>();
    for (const n of names) files.set(n, await fs.readFile(`${DIR}/${n}`, 1 << 20));
    const bad = seg2.slice();
    bad[pos] = (bad[pos] as number) ^ 0x80;
    files.set(names[1] as string, bad);
    const planted = await plant(files);
    await t.rejects(Wal.open(planted, DIR), { code: 'ERR_CORRUPTION', details: { file: `${DIR}/${names[1]}` } }, `flip in the ${what} of segment 2`);
  }
  const files = new Map<string, Uint8Array>();
  for (const n of names) files.set(n, await fs.readFile(`${DIR}/${n}`, 1 << 20));
  files.set(names[1] as string, seg2.slice(0, seg2.length - 3));
  await t.rejects(Wal.open(await plant(files), DIR), { code: 'ERR_CORRUPTION' }, 'a torn record in an earlier segment is not a tail');
});

t.test('bad input on disk: clear errors or tail truncation, never a crash or an unbounded allocation', async (t) => {
  const { bytes } = await writeOneRecordPerSync(OPS.slice(0, 3));

  const withJunk = await plant(
    new Map([
      [segmentFileName(1), bytes],
      ['LOCK', new Uint8Array([1, 2, 3])],
      ['notes.txt', new TextEncoder().encode('hello')],
    ]),
  );
  const opened = await Wal.open(withJunk, DIR);
  t.same(opened.recovery.ignoredFiles, ['LOCK', 'notes.txt'], 'foreign files are ignored and reported');
  t.ok(await withJunk.exists(`${DIR}/LOCK`), 'and left alone');

  await t.rejects(
    Wal.open(await plant(new Map([[segmentFileName(1), bytes], ['backup.wal', bytes]])), DIR),
    { code: 'ERR_CORRUPTION', details: { file: `${DIR}/backup.wal` } },
    'a *.wal file that is not a segment name is refused',
  );

  const emptyLast = await plant(new Map([[segmentFileName(1), bytes], [segmentFileName(2), new Uint8Array(0)]]));
  const e = await Wal.open(emptyLast, DIR);
  t.equal(e.recovery.tailTruncation, null, 'a zero-length last segment (a crash while rolling) opens');
  t.equal(await emptyLast.sizeBytes(`${DIR}/${segmentFileName(2)}`), SEGMENT_HEADER_BYTES, 'and gets its header');
  t.equal(e.recovery.groups.get(1)?.entries.length, 3, 'earlier segments recovered');

  const tornHeader = await plant(new Map([[segmentFileName(1), bytes], [segmentFileName(2), encodeSegmentHeader(2).slice(0, 7)]]));
  const th = await Wal.open(tornHeader, DIR);
  t.equal(th.recovery.tailTruncation?.offsetBytes, 0, 'a torn header of the last segment is a reported tail');

  await t.rejects(
    Wal.open(await plant(new Map([[segmentFileName(1), new Uint8Array(0)], [segmentFileName(2), encodeSegmentHeader(2)]])), DIR),
    { code: 'ERR_CORRUPTION', details: { file: SEG1, offsetBytes: 0 } },
    'a zero-length segment before the last is corruption',
  );

  await t.rejects(
    Wal.open(await plant(new Map([[segmentFileName(1), bytes], [segmentFileName(3), encodeSegmentHeader(3)]])), DIR),
    { code: 'ERR_CORRUPTION', message: /0000000000000002\.wal is missing/ },
    'a missing segment in the sequence is corruption',
  );

  const notWal = new TextEncoder().encode('this is not a WAL segment at all, just text');
  await t.rejects(
    Wal.open(await plant(new Map([[segmentFileName(1), notWal]])), DIR),
    { code: 'ERR_CORRUPTION', details: { offsetBytes: 0 } },
    'a file with the wrong magic is corruption',
  );
  await t.rejects(
    Wal.open(await plant(new Map([[segmentFileName(1), encodeSegmentHeader(7)]])), DIR),
    { code: 'ERR_CORRUPTION', message: /header says segment 7/ },
    'a segment whose header names another sequence number is corruption',
  );

  // A huge length field: in the tail it is a torn record, in the middle it is corruption; never an allocation.
  const bounds = recordBoundaries(bytes, 1);
  const lastStart = bounds[bounds.length - 2] as number;
  const hugeTail = bytes.slice();
  new DataView(hugeTail.buffer).setUint32(lastStart, 0xfffffff0, true);
  const ht = await Wal.open(await plant(new Map([[segmentFileName(1), hugeTail]])), DIR);
  t.match(ht.recovery.tailTruncation?.reason, /exceeds recordBytesMax/, 'a huge length in the tail record is truncated and reported');
  const hugeMid = bytes.slice();
  new DataView(hugeMid.buffer).setUint32(bounds[0] as number, 0xfffffff0, true);
  await t.rejects(
    Wal.open(await plant(new Map([[segmentFileName(1), hugeMid]])), DIR),
    { code: 'ERR_CORRUPTION', details: { offsetBytes: bounds[0] }, message: /exceeds recordBytesMax/ },
    'a huge length before valid records is corruption',
  );

  // A record with a valid CRC whose payload claims 2^32-1 entries: refused before any allocation.
  const w = new ByteWriter(64, 1024);
  w.raw(encodeSegmentHeader(1));
  const start = beginRecord(w, 1, RecordType.Entries);
  w.u64(1);
  w.u32(0xffffffff);
  finishRecord(w, start, 1024);
  await t.rejects(
    Wal.open(await plant(new Map([[segmentFileName(1), w.bytes.slice(0, w.length)]])), DIR),
    { code: 'ERR_CORRUPTION', message: /entry count 4294967295 cannot fit/ },
    'a checksummed record that does not parse is corruption, even at the tail',
  );

  const manifestGarbage = await plant(new Map([[segmentFileName(1), bytes], [MANIFEST_FILE, new Uint8Array(40).fill(9)]]));
  await t.rejects(Wal.open(manifestGarbage, DIR), { code: 'ERR_CORRUPTION', details: { file: `${DIR}/${MANIFEST_FILE}` } }, 'a damaged manifest is corruption');
});

t.test('zeroed tail (a file system that extended the file but never wrote the data) is a torn tail', async (t) => {
  const { bytes, models } = await writeOneRecordPerSync(OPS);
  const padded = new Uint8Array(bytes.length + 4096);
  padded.set(bytes);
  const { recovery } = await Wal.open(await plant(new Map([[segmentFileName(1), padded]])), DIR);
  t.equal(recovery.tailTruncation?.droppedBytes, 4096, 'the zeros are cut');
  t.equal(normalModel(recovery.groups), normalModel(models[OPS.length] as Model), 'every record before them is kept');
});
