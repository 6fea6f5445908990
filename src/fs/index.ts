/**
 * index.ts — the public surface of src/fs: the one FileSystem interface
 * storage code uses, the real implementation, the crash-simulating one and
 * the lazy one (unsynced bytes held in the process, for power cuts of real
 * node processes in tests).
 */
export { isNotFoundError } from './file-system.js';
export type { FileSystem, WritableFile, WriteMode } from './file-system.js';
export { NodeFileSystem } from './node-file-system.js';
export { CrashFileSystem, CrashFsLimits, FsCrashedError } from './crash-file-system.js';
export { LazyFileSystem, LazyFsLimits } from './lazy-file-system.js';
export type { CrashFsStats, CrashOptions } from './crash-file-system.js';
export { SeededRand } from './seeded-rand.js';
export type { IntnRand } from './seeded-rand.js';
