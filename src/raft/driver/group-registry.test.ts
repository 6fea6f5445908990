import t from 'tap';
import { CrashFileSystem } from '../../fs/crash-file-system.js';
import { SeededRand } from '../../fs/seeded-rand.js';
import { GROUP_REGISTRY_FILE, GROUP_REGISTRY_HEADER_BYTES, GROUP_REGISTRY_MAGIC, GROUP_REGISTRY_TMP_FILE, GROUP_REGISTRY_VERSION_V1, GroupRegistry, RegistryState, decodeGroupRegistry, encodeGroupRegistry } from './group-registry.js';
import type { RegistryEntry } from './group-registry.js';
import { NO_TOMBSTONE } from '../tombstone.js';
import { crc32c } from '../wal/crc32c.js';
import { ByteWriter } from '../wal/record-format.js';

const DIR = '/node';

async function newFs(): Promise<CrashFileSystem> {
  const fs = new CrashFileSystem(new SeededRand(3));
  await fs.mkdirp(DIR);
  await fs.fsyncDir('/');
  return fs;
}

t.test('encode/decode round-trips; any flipped byte is ERR_CORRUPTION', async (t) => {
  const m = new Map<number, RegistryEntry>([
    [9, { group: 9, state: RegistryState.Hosted, voters: [1, 2, 3], learners: [4], tombstone: NO_TOMBSTONE }],
    [2, { group: 2, state: RegistryState.Removed, voters: [], learners: [], tombstone: { term: 7, vote: 3, floor: { index: 41, term: 6 } } }],
    [5, { group: 5, state: RegistryState.Hosted, voters: [], learners: [], tombstone: { term: 9, vote: 0, floor: { index: 12, term: 2 } } }],
  ]);
  const bytes = encodeGroupRegistry(m);
  t.same([...decodeGroupRegistry(bytes, 'f').values()], [...m.values()].sort((a, b) => a.group - b.group));
  for (let k = 0; k < bytes.length; k++) {
    const bad = bytes.slice();
    bad[k] = (bad[k] as number) ^ 0x10;
    t.throws(() => decodeGroupRegistry(bad, 'f'), { code: 'ERR_CORRUPTION' }, `byte ${k} flipped`);
  }
  t.throws(() => decodeGroupRegistry(bytes.subarray(0, bytes.length - 1), 'f'), { code: 'ERR_CORRUPTION' }, 'truncated');
});

t.test('put is durable through a crash; a crash before the rename is durable keeps the old registry', async (t) => {
  const fs = await newFs();
  const r = await GroupRegistry.load(fs, DIR);
  t.same(r.entries(), [], 'a missing file is an empty registry');
  await r.put({ group: 1, state: RegistryState.Hosted, voters: [1], learners: [], tombstone: NO_TOMBSTONE });
  fs.crash();
  fs.reboot();
  const r2 = await GroupRegistry.load(fs, DIR);
  t.equal(r2.get(1)?.state, RegistryState.Hosted, 'survives a crash after put resolved');
  // Crash at each step of the next put: the old or the new registry, never a torn one.
  let sawOld = false;
  let sawNew = false;
  for (let n = 1; n <= 6; n++) {
    fs.crashAfterOps(n);
    await r2.put({ group: 1, state: RegistryState.Removed, voters: [], learners: [], tombstone: NO_TOMBSTONE }).catch(() => undefined);
    fs.disarm();
    fs.crash();
    fs.reboot();
    const r3 = await GroupRegistry.load(fs, DIR);
    const st = r3.get(1)?.state;
    t.ok(st === RegistryState.Hosted || st === RegistryState.Removed, `n=${n}: state ${st}`);
    if (st === RegistryState.Hosted) sawOld = true;
    else sawNew = true;
    t.notOk(await fs.exists(`${DIR}/${GROUP_REGISTRY_TMP_FILE}`), 'load removes a leftover tmp file');
    if (st === RegistryState.Removed) {
      // Reset for the next crash point.
      await r3.put({ group: 1, state: RegistryState.Hosted, voters: [1], learners: [], tombstone: NO_TOMBSTONE });
    }
  }
  t.ok(sawOld && sawNew, 'early crashes keep the old registry, late ones the new');
  t.ok(await fs.exists(`${DIR}/${GROUP_REGISTRY_FILE}`));
});

t.test('a version 1 registry (no tombstones) still reads, each entry with NO_TOMBSTONE; a floor past its term is ERR_CORRUPTION', async (t) => {
  const w = new ByteWriter(64, 1024);
  w.u32(GROUP_REGISTRY_MAGIC);
  w.u32(GROUP_REGISTRY_VERSION_V1);
  w.u32(0);
  w.u32(0);
  w.u32(2);
  for (const [group, state, voters] of [[3, RegistryState.Hosted, [1, 2]], [4, RegistryState.Removed, []]] as const) {
    w.u32(group);
    w.u8(state);
    w.u32(voters.length);
    for (const v of voters) w.u64(v);
    w.u32(0);
  }
  w.setU32At(12, w.length - GROUP_REGISTRY_HEADER_BYTES);
  w.setU32At(8, crc32c(w.bytes, GROUP_REGISTRY_HEADER_BYTES, w.length));
  const v1 = decodeGroupRegistry(w.bytes.slice(0, w.length), 'v1');
  t.same([...v1.values()], [
    { group: 3, state: RegistryState.Hosted, voters: [1, 2], learners: [], tombstone: NO_TOMBSTONE },
    { group: 4, state: RegistryState.Removed, voters: [], learners: [], tombstone: NO_TOMBSTONE },
  ]);
  const bad = encodeGroupRegistry(new Map([[1, { group: 1, state: RegistryState.Removed, voters: [], learners: [], tombstone: { term: 2, vote: 0, floor: { index: 5, term: 3 } } }]]));
  t.throws(() => decodeGroupRegistry(bad, 'f'), { code: 'ERR_CORRUPTION', message: /vote floor term 3 is past the tombstone's term 2/ });
});
