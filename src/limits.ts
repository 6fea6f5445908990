/**
 * limits.ts — every maximum and default of otlpdb, in one place, each named
 * with its unit last (`...Ticks`, `...Bytes`, `...Max`). Relations between the
 * constants are asserted when this module loads, so an inconsistent edit fails
 * at startup instead of as a liveness bug under load.
 */
import { assert } from './errors.js';

/** RaftLimits are the defaults of one Raft group; a Config may override each. */
export const RaftLimits = {
  /** electionTicks is the base election timeout; the randomized timeout is in [electionTicks, 2*electionTicks). */
  electionTicks: 10,
  /** heartbeatTicks is how often a leader sends heartbeats. */
  heartbeatTicks: 1,
  /** inflightMsgsMax bounds the append messages in flight to one follower in replicate state. */
  inflightMsgsMax: 256,
  /** inflightBytesMax bounds the entry bytes in flight to one follower (0 would mean unbounded; never used). */
  inflightBytesMax: 32 * 1024 * 1024,
  /** msgEntriesBytesMax bounds the entry bytes of one append message (one entry may exceed it alone). */
  msgEntriesBytesMax: 1024 * 1024,
  /** uncommittedEntriesBytesMax bounds the bytes a leader accepts but has not committed; proposals past it are dropped. */
  uncommittedEntriesBytesMax: 64 * 1024 * 1024,
  /** committedEntriesBytesMax bounds the committed-entry bytes handed to the driver in one Ready. */
  committedEntriesBytesMax: 8 * 1024 * 1024,
  /** snapshotChunkBytesMax is the size of one InstallSnapshot chunk. */
  snapshotChunkBytesMax: 512 * 1024,
  /** snapshotBytesMax bounds the snapshot a follower accepts (chunks beyond it are refused). */
  snapshotBytesMax: 4 * 1024 * 1024 * 1024,
  /** readIndexPendingMax bounds the ReadIndex requests a leader keeps waiting for quorum confirmation. */
  readIndexPendingMax: 4096,
  /** proposalEntriesMax bounds the entries of one propose() call (a batch). */
  proposalEntriesMax: 4096,
  /** msgsPerReadyMax is a sanity bound on messages in one Ready; exceeding it is a bug. */
  msgsPerReadyMax: 1_000_000,
  /** transferLeaderTicksMax aborts a leadership transfer that has not finished within this many ticks. */
  transferLeaderTicks: 10,
} as const;

assert(RaftLimits.heartbeatTicks > 0, 'heartbeatTicks > 0');
assert(RaftLimits.electionTicks > RaftLimits.heartbeatTicks, 'electionTicks > heartbeatTicks');
assert(RaftLimits.inflightMsgsMax > 0, 'inflightMsgsMax > 0');
assert(RaftLimits.inflightBytesMax >= RaftLimits.msgEntriesBytesMax, 'inflightBytesMax >= msgEntriesBytesMax');
assert(
  RaftLimits.uncommittedEntriesBytesMax >= RaftLimits.msgEntriesBytesMax,
  'uncommittedEntriesBytesMax >= msgEntriesBytesMax',
);
assert(RaftLimits.snapshotChunkBytesMax <= RaftLimits.msgEntriesBytesMax, 'snapshotChunkBytesMax <= msgEntriesBytesMax');
assert(RaftLimits.transferLeaderTicks <= RaftLimits.electionTicks, 'transferLeaderTicks <= electionTicks');

/** SimLimits bound the deterministic simulator. */
export const SimLimits = {
  /** stepsDefault is the number of simulation steps per seed when none is given. */
  stepsDefault: 2000,
  /** stepsMax refuses absurd --steps values. */
  stepsMax: 10_000_000,
  /** seedsMax refuses absurd --seeds values. */
  seedsMax: 100_000_000,
  /** healTicksMax is how long, after healing every fault, a leader must appear and every acknowledged write apply. */
  healTicksMax: 400,
  /** networkQueueMax bounds the messages in flight in the simulated network; extra messages are dropped. */
  networkQueueMax: 100_000,
  /** dropReportsPerStepMax bounds the undeliverable-message reports handed to senders in one step. */
  dropReportsPerStepMax: 4096,
  /** readiesPerStepMax bounds the Readies one node carries out in one step (the core quiesces well before). */
  readiesPerStepMax: 64,
  /** readsPendingMax bounds the ReadStates a simulated node keeps waiting for its applied index. */
  readsPendingMax: 4096,
  /** kvKeysMax bounds the distinct keys of the simulated register workload. */
  kvKeysMax: 64,
  /** nodeIdMax bounds simulated node ids so that a directed link fits in one number key. */
  nodeIdMax: 1023,
  /** checkSearchStepsMax bounds the linearizability search of one seed's history per key; past it the verdict is 'unknown', never a violation. */
  checkSearchStepsMax: 5_000_000,
  /** nodesMax bounds the simulated nodes alive at once (founders plus joiners). */
  nodesMax: 9,
  /** clientsMax bounds the number of simulated clients. */
  clientsMax: 16,
  /** valuePaddingBytesMax bounds the padding of values written by simulated clients. */
  valuePaddingBytesMax: 4096,
} as const;

assert(SimLimits.healTicksMax > 2 * RaftLimits.electionTicks * 5, 'healTicksMax leaves room for several elections');

/** CheckerLimits bound the linearizability checker. */
export const CheckerLimits = {
  /** opsPerKeyMax refuses histories whose per-key part is too large to search. */
  opsPerKeyMax: 100_000,
  /** searchStepsMax bounds the WGL search per key; past it the result is "unknown", never a guess. */
  searchStepsMax: 50_000_000,
  /** cacheBytesMax bounds the estimated memory of one partition's search cache; past it the result is "unknown". */
  cacheBytesMax: 512 * 1024 * 1024,
} as const;

/** PartitionLimits bound shard counts, replication, the ring and partition keys. */
export const PartitionLimits = {
  /** shardCountDefault is the shard count S of a new cluster (DESIGN.md §4). */
  shardCountDefault: 16,
  /** shardCountMax bounds S: one Raft group per shard, and S is fixed at cluster creation. */
  shardCountMax: 4096,
  /** replicationFactorDefault is the replicas per shard R of a new cluster (DESIGN.md §4). */
  replicationFactorDefault: 3,
  /** replicationFactorMax bounds R: a Raft group larger than 7 voters gains no availability worth its write cost. */
  replicationFactorMax: 7,
  /** nodesMax bounds the member set of one cluster. */
  nodesMax: 1024,
  /** nodeIdBytesMax bounds the UTF-8 length of one node id. */
  nodeIdBytesMax: 256,
  /** vnodesPerNodeDefault is the virtual nodes each node places on the ring. */
  vnodesPerNodeDefault: 128,
  /** vnodesPerNodeMax bounds virtual nodes per node (ring points = nodes × vnodes). */
  vnodesPerNodeMax: 4096,
  /**
   * replicaSlackPerNode is how many replicas above the even share ceil(S*R/N)
   * placement lets a node keep before it rebalances. 0 balances perfectly but
   * makes a membership change cascade more moves at small S (measured at S=16,
   * R=3, N=3..10: worst ~3x the ideal 1/(N+1) moves with 0 in a prototype,
   * 1.88x with 1 as shipped; placement.test.ts prints the figures).
   */
  replicaSlackPerNode: 1,
  /** partitionKeyBytesMax bounds one encoded row partition key (tenant, metric name, labels, ids). */
  partitionKeyBytesMax: 64 * 1024,
} as const;

assert(PartitionLimits.shardCountDefault >= 1, 'shardCountDefault >= 1');
assert(PartitionLimits.shardCountDefault <= PartitionLimits.shardCountMax, 'shardCountDefault <= shardCountMax');
// Jump consistent hash returns an int32 bucket; shard ids are bucket + 1.
assert(PartitionLimits.shardCountMax < 2 ** 31, 'shardCountMax < 2^31');
assert(PartitionLimits.replicationFactorDefault >= 1, 'replicationFactorDefault >= 1');
assert(
  PartitionLimits.replicationFactorDefault <= PartitionLimits.replicationFactorMax,
  'replicationFactorDefault <= replicationFactorMax',
);
assert(PartitionLimits.vnodesPerNodeDefault >= 1, 'vnodesPerNodeDefault >= 1');
assert(PartitionLimits.vnodesPerNodeDefault <= PartitionLimits.vnodesPerNodeMax, 'vnodesPerNodeDefault <= vnodesPerNodeMax');
assert(PartitionLimits.replicaSlackPerNode >= 0, 'replicaSlackPerNode >= 0');
// Ring point indices and counts stay far inside exact integer range.
assert(PartitionLimits.nodesMax * PartitionLimits.vnodesPerNodeMax <= 2 ** 24, 'ring points <= 2^24');

/**
 * WalLimits are the WAL's named maximums and defaults.
 */
export const WalLimits = {
  /** segmentBytesDefault is the size at which a segment rolls unless WalOptions says otherwise. */
  segmentBytesDefault: 64 * 1024 * 1024,
  /** recordBytesMax bounds one record (header included); larger batches are split, a larger single entry is refused. */
  recordBytesMax: 32 * 1024 * 1024,
  /** segmentFileBytesMax bounds the segment file recovery will read; a larger file is corruption, not an allocation. */
  segmentFileBytesMax: 1024 * 1024 * 1024,
  /** bufferedBytesMax bounds the records buffered between two syncs. */
  bufferedBytesMax: 256 * 1024 * 1024,
  /** bufferInitialBytes is the starting size of each of the two write buffers. */
  bufferInitialBytes: 64 * 1024,
  /** manifestBytesMax bounds the manifest file. */
  manifestBytesMax: 64 * 1024 * 1024,
  /** groupsMax bounds the Raft groups one WAL holds. */
  groupsMax: 100_000,
  /** dirEntriesMax bounds the entries of the WAL directory read at open. */
  dirEntriesMax: 1_000_000,
  /** purgeSyncRoundsMax bounds how often purge re-syncs records appended while it was flushing before it gives up for now. */
  purgeSyncRoundsMax: 4,
} as const;

assert(WalLimits.recordBytesMax >= RaftLimits.msgEntriesBytesMax + 4096, 'a full append message fits in one WAL record');
assert(WalLimits.bufferedBytesMax >= RaftLimits.uncommittedEntriesBytesMax, 'one Ready of uncommitted entries fits in the buffer');
assert(
  WalLimits.segmentFileBytesMax >= WalLimits.segmentBytesDefault + WalLimits.recordBytesMax,
  'a full segment plus one record is readable at recovery',
);
assert(WalLimits.bufferInitialBytes <= WalLimits.bufferedBytesMax, 'initial buffer within its bound');

/** DriverLimits bound one node's multi-raft driver: its groups, waiters, timeouts and compaction. */
export const DriverLimits = {
  /** tickMsDefault is the wall time of one Raft tick when the driver schedules its own ticks. */
  tickMsDefault: 100,
  /** groupsMax bounds the Raft groups one driver hosts (meta + shards). */
  groupsMax: 4097,
  /** proposalsPendingPerGroupMax bounds the proposals of one group waiting to be applied; more are refused. */
  proposalsPendingPerGroupMax: 4096,
  /** proposalBatchEntriesMax bounds the entries of one proposeBatch call (one request's shard parts proposed together). */
  proposalBatchEntriesMax: 4096,
  /** readsPendingPerGroupMax bounds the read barriers of one group waiting for their ReadIndex. */
  readsPendingPerGroupMax: 4096,
  /** proposalTimeoutMsDefault is the deadline of a proposal (ERR_TIMEOUT after it: outcome unknown). */
  proposalTimeoutMsDefault: 10_000,
  /** readTimeoutMsDefault is the deadline of a read barrier. */
  readTimeoutMsDefault: 10_000,
  /** timeoutMsMax bounds any deadline a caller may ask for. */
  timeoutMsMax: 10 * 60 * 1000,
  /** snapshotEntriesDefault: a group snapshots once its applied index is this many entries past its last snapshot. */
  snapshotEntriesDefault: 10_000,
  /** compactKeepEntriesDefault is how many applied entries compaction keeps behind a snapshot for slow followers. */
  compactKeepEntriesDefault: 1_000,
  /** compactKeepBytesMax bounds the bytes of the entries a compaction keeps behind a snapshot, per group (they stay in memory). */
  compactKeepBytesMax: 16 * 1024 * 1024,
  /**
   * walSegmentsSoftMaxDefault: past this many WAL segments (of
   * WalLimits.segmentBytesMax each), the groups that pin the oldest one
   * snapshot (or flush) and compact up to it, keeping no entries behind, so a
   * quiet group cannot keep the whole log of the busy ones on disk
   * (wal.ts, "Compaction").
   */
  walSegmentsSoftMaxDefault: 8,
  /**
   * walFlushAheadPercent: past this share of walSegmentsSoftMax segments
   * (rounded down, at least 1), the driver flushes the durable groups that
   * pin the oldest segments ahead of the forced bound, a few at a time
   * (walFlushesAheadInFlightMax), so the WAL rarely reaches the forced path
   * and the busy shards stop flushing all at once (multi-raft.ts, "Pacing
   * the WAL"). 8 segments give a watermark of 6: at ~64 MiB a segment, 16
   * busy shards then flush ~16-20 MiB of WAL each, one or two at a time,
   * instead of all 16 at 8 segments (bench/README.md "ingest", s19).
   */
  walFlushAheadPercent: 75,
  /** walFlushesAheadInFlightMax: the flush-ahead path starts a flush only while fewer than this many flushes run on the node (any cause). */
  walFlushesAheadInFlightMax: 2,
  /**
   * walForcedFlushesInFlightMax: the forced path (past walSegmentsSoftMax)
   * starts a flush only while fewer than this many run on the node; the
   * pinning groups it cannot flush yet wait for a later pass (counted in
   * DriverStats.forcedFlushesDeferred). Sixteen flushes started at once
   * took 30 s and more before the first of them ended on a loaded 2-core
   * machine, with ~160 MB of heap more and the write path starved.
   */
  walForcedFlushesInFlightMax: 4,
  /** snapshotFileBytesMax bounds a snapshot file read back from the snapshot store. */
  snapshotFileBytesMax: RaftLimits.snapshotBytesMax + 64 * 1024 * 1024,
  /** snapshotMetaBytesMax bounds the metadata header of one snapshot file. */
  snapshotMetaBytesMax: 16 * 1024 * 1024,
  /** receiveMessagesMax bounds the messages one receive() call accepts; the rest are refused. */
  receiveMessagesMax: 100_000,
  /** iterationsPerKickMax bounds the back-to-back iterations one wake-up runs before yielding to the event loop. */
  iterationsPerKickMax: 64,
  /** registryEntriesMax bounds the group registry (groups added at runtime plus tombstones of removed groups). */
  registryEntriesMax: 2 * 4097,
  /** registryMembersPerGroupMax bounds the founding voters plus learners of one group the registry records. */
  registryMembersPerGroupMax: 64,
  /** registryFileBytesMax bounds the group registry file (header + every entry at its largest). */
  registryFileBytesMax: 20 + 2 * 4097 * (13 + 64 * 8),
} as const;

assert(DriverLimits.tickMsDefault > 0, 'tickMsDefault > 0');
assert(DriverLimits.groupsMax >= 2, 'groupsMax holds the meta group and a shard');
assert(DriverLimits.proposalsPendingPerGroupMax > 0, 'proposalsPendingPerGroupMax > 0');
assert(DriverLimits.readsPendingPerGroupMax > 0, 'readsPendingPerGroupMax > 0');
assert(
  DriverLimits.proposalTimeoutMsDefault >= DriverLimits.tickMsDefault * RaftLimits.electionTicks * 2,
  'a proposal outlives one election timeout',
);
assert(DriverLimits.readTimeoutMsDefault >= DriverLimits.tickMsDefault * RaftLimits.electionTicks * 2, 'a read outlives one election');
assert(DriverLimits.proposalTimeoutMsDefault <= DriverLimits.timeoutMsMax, 'proposal timeout within timeoutMsMax');
assert(DriverLimits.readTimeoutMsDefault <= DriverLimits.timeoutMsMax, 'read timeout within timeoutMsMax');
assert(DriverLimits.compactKeepEntriesDefault < DriverLimits.snapshotEntriesDefault, 'compaction keeps fewer entries than a snapshot interval');
assert(DriverLimits.walFlushAheadPercent > 0 && DriverLimits.walFlushAheadPercent < 100, 'the flush-ahead watermark is below the forced bound');
assert(
  Math.floor((DriverLimits.walSegmentsSoftMaxDefault * DriverLimits.walFlushAheadPercent) / 100) < DriverLimits.walSegmentsSoftMaxDefault,
  'the default flush-ahead watermark is below walSegmentsSoftMaxDefault',
);
assert(DriverLimits.walFlushesAheadInFlightMax >= 1, 'the flush-ahead path may start a flush');
assert(
  DriverLimits.walForcedFlushesInFlightMax >= DriverLimits.walFlushesAheadInFlightMax,
  'the forced path may run at least as many flushes as the flush-ahead path',
);
assert(DriverLimits.snapshotFileBytesMax > RaftLimits.snapshotBytesMax, 'a snapshot file holds the largest accepted image');
assert(DriverLimits.registryEntriesMax >= 2 * DriverLimits.groupsMax, 'the registry holds every hosted group and as many tombstones');
assert(
  DriverLimits.registryFileBytesMax >= 20 + DriverLimits.registryEntriesMax * (13 + DriverLimits.registryMembersPerGroupMax * 8),
  'a full registry fits in registryFileBytesMax',
);
assert(DriverLimits.readsPendingPerGroupMax <= RaftLimits.readIndexPendingMax, 'driver reads fit in the core ReadIndex queue');

/** TransportLimits bound every queue, frame, call and timer of the peer transport. */
export const TransportLimits = {
  /** frameBytesMax bounds one frame on the wire (type byte + payload); a longer length prefix closes the connection. */
  frameBytesMax: 16 * 1024 * 1024,
  /** batchBytesTarget is the encoded size at which send() starts a new frame for the same peer. */
  batchBytesTarget: 4 * 1024 * 1024,
  /** messagesPerFrameMax bounds the Raft messages of one frame (sender splits, receiver refuses more). */
  messagesPerFrameMax: 65_536,
  /** entriesPerMessageMax bounds the entries of one received message. */
  entriesPerMessageMax: 65_536,
  /** confNodesMax bounds the voters plus learners of a received snapshot's ConfState. */
  confNodesMax: PartitionLimits.nodesMax,
  /** sendQueueFramesMax bounds the frames waiting for one peer's socket (send queue, count). */
  sendQueueFramesMax: 1024,
  /** sendQueueBytesMax bounds the encoded bytes waiting for one peer's socket (send queue, bytes). */
  sendQueueBytesMax: 64 * 1024 * 1024,
  /** peersMax bounds the configured peers (per-peer state exists only for them). */
  peersMax: PartitionLimits.nodesMax,
  /** inboundConnectionsMax bounds accepted connections, handshaken or not (a redial replaces its predecessor). */
  inboundConnectionsMax: 2 * PartitionLimits.nodesMax,
  /** groupIdMax is the largest group id accepted on the wire (0 is meta, 1..S shards). */
  groupIdMax: PartitionLimits.shardCountMax,
  /** clusterIdBytesMax bounds the UTF-8 cluster id carried in the handshake. */
  clusterIdBytesMax: 256,
  /** handshakeMsMax is how long an accepted connection may take to send its handshake frame. */
  handshakeMsMax: 5_000,
  /** connectMsMax is the deadline of one outgoing TCP connect plus handshake write. */
  connectMsMax: 5_000,
  /** reconnectBackoffBaseMs is the first reconnect delay; each failure doubles it. */
  reconnectBackoffBaseMs: 50,
  /** reconnectBackoffMaxMs caps the reconnect delay (before jitter). */
  reconnectBackoffMaxMs: 5_000,
  /** reconnectJitterPercent spreads each delay uniformly over [delay*(1-p/100), delay]. */
  reconnectJitterPercent: 50,
  /** callsPendingMax bounds the outgoing unary calls awaiting an answer, over all peers. */
  callsPendingMax: 4096,
  /** callsServedPerConnectionMax bounds the incoming unary calls one connection may have in progress. */
  callsServedPerConnectionMax: 1024,
  /** callDeadlineMsMax bounds the deadline a caller may give one unary call. */
  callDeadlineMsMax: 10 * 60 * 1000,
  /** callMethodBytesMax bounds the UTF-8 method name of a unary call. */
  callMethodBytesMax: 256,
  /** callCancelBytesMax bounds a CallCancel payload ([version, callId] packs to at most 7 bytes); a longer one refuses the connection. */
  callCancelBytesMax: 32,
  /** faultDelayMsMax bounds the injected per-peer delay. */
  faultDelayMsMax: 60_000,
  /** faultDelayedFramesMax bounds the frames held by an injected delay for one peer; more are dropped. */
  faultDelayedFramesMax: 1024,
  /** faultReorderHeldMax bounds the messages held back by injected reordering for one peer. */
  faultReorderHeldMax: 256,
} as const;

assert(TransportLimits.batchBytesTarget * 2 <= TransportLimits.frameBytesMax, 'a target-sized batch plus one large message fits in a frame');
// One append message (entries up to msgEntriesBytesMax, and one entry may exceed it alone) must fit.
assert(TransportLimits.frameBytesMax >= RaftLimits.msgEntriesBytesMax * 4, 'frameBytesMax holds an append message');
assert(TransportLimits.frameBytesMax >= RaftLimits.snapshotChunkBytesMax * 4, 'frameBytesMax holds a snapshot chunk');
assert(TransportLimits.frameBytesMax < 2 ** 32, 'frame length fits the u32 prefix');
assert(TransportLimits.sendQueueBytesMax >= TransportLimits.frameBytesMax, 'one full frame fits the send queue');
assert(TransportLimits.sendQueueFramesMax >= 1, 'sendQueueFramesMax >= 1');
assert(TransportLimits.reconnectBackoffBaseMs >= 1, 'reconnectBackoffBaseMs >= 1');
assert(
  TransportLimits.reconnectBackoffBaseMs <= TransportLimits.reconnectBackoffMaxMs,
  'reconnectBackoffBaseMs <= reconnectBackoffMaxMs',
);
assert(
  TransportLimits.reconnectJitterPercent >= 0 && TransportLimits.reconnectJitterPercent < 100,
  'reconnectJitterPercent in [0, 100)',
);
assert(TransportLimits.inboundConnectionsMax >= TransportLimits.peersMax, 'every peer can hold an inbound connection');
assert(TransportLimits.callsPendingMax >= 1, 'callsPendingMax >= 1');
assert(TransportLimits.messagesPerFrameMax >= 1, 'messagesPerFrameMax >= 1');

/*
 * ControlLimits: the limits of the meta group's state machine.
 * Every limit below is applied inside `MetaStateMachine.apply`, so a change
 * to one is a change to the replicated state machine: every replica of the
 * meta group must run the same values, or they could refuse different
 * commands and diverge. Raise limits only with a rolling restart that
 * finishes before the first command near the old limit is proposed.
 */
/** ControlLimits bound the meta group's state machine: every map it holds and every field of every command. */
export const ControlLimits = {
  /** kvKeyBytesMax bounds the UTF-8 length of one control-KV key. */
  kvKeyBytesMax: 1024,
  /** kvValueBytesMax bounds the UTF-8 length of one control-KV value. */
  kvValueBytesMax: 64 * 1024,
  /** kvKeysMax bounds the number of keys in the control KV. */
  kvKeysMax: 10_000,
  /** kvListEntriesMax bounds the entries one `list` query returns. */
  kvListEntriesMax: 1000,
  /** lockNameBytesMax bounds the UTF-8 length of a lock name. */
  lockNameBytesMax: 256,
  /** lockOwnerBytesMax bounds the UTF-8 length of a lock owner's label. */
  lockOwnerBytesMax: 256,
  /** locksMax bounds the locks held at once. */
  locksMax: 1024,
  /** lockTtlMsMin is the shortest lease; shorter ones would expire before a client could use them. */
  lockTtlMsMin: 100,
  /** lockTtlMsMax is the longest lease (one hour). */
  lockTtlMsMax: 60 * 60 * 1000,
  /** stampMsMax bounds a leader's clock stamp (year 2286 in Unix ms; keeps sums of stamp and TTL exact). */
  stampMsMax: 10_000_000_000_000,
  /** nodesMax bounds the membership list (the same bound as a placement's member set). */
  nodesMax: 1024,
  /** retiredNodesMax bounds the ids of nodes that left (kept so that none is admitted again; past it, a removal is refused). */
  retiredNodesMax: 16_384,
  /** nodeIdBytesMax bounds the UTF-8 length of a node id (the same bound as placement node ids). */
  nodeIdBytesMax: 256,
  /** addressBytesMax bounds the UTF-8 length of a peer or API address. */
  addressBytesMax: 256,
  /** tenantsMax bounds the tenants with settings. */
  tenantsMax: 10_000,
  /** tenantIdBytesMax bounds the length of a tenant id. */
  tenantIdBytesMax: 64,
  /** tenantIngestBytesPerSecondMax bounds a tenant's ingest rate setting (10 GiB/s). */
  tenantIngestBytesPerSecondMax: 10 * 1024 * 1024 * 1024,
  /** tenantQueryConcurrencyMax bounds a tenant's concurrent-query setting. */
  tenantQueryConcurrencyMax: 1024,
  /** tenantRetentionMsMin is the shortest retention a tenant may set for a signal (one hour). */
  tenantRetentionMsMin: 60 * 60 * 1000,
  /** tenantRetentionMsMax is the longest retention a tenant may set for a signal (ten years of 365 days). */
  tenantRetentionMsMax: 10 * 365 * 24 * 60 * 60 * 1000,
  /** requestIdBytesMax bounds the UTF-8 length of a client request id. */
  requestIdBytesMax: 128,
  /** requestIdsRememberedMax bounds the request ids (with their results) remembered for idempotent retries. */
  requestIdsRememberedMax: 4096,
  /** commandBytesMax bounds one encoded meta command; larger proposal data is refused unparsed. */
  commandBytesMax: 256 * 1024,
} as const;

assert(ControlLimits.kvKeyBytesMax > 0, 'kvKeyBytesMax > 0');
assert(ControlLimits.kvValueBytesMax >= ControlLimits.kvKeyBytesMax, 'kvValueBytesMax >= kvKeyBytesMax');
assert(ControlLimits.kvListEntriesMax >= 1, 'kvListEntriesMax >= 1');
assert(ControlLimits.retiredNodesMax >= ControlLimits.nodesMax, 'retiredNodesMax >= nodesMax: every member can leave once');
assert(ControlLimits.kvListEntriesMax <= ControlLimits.kvKeysMax, 'kvListEntriesMax <= kvKeysMax');
assert(ControlLimits.lockTtlMsMin > 0, 'lockTtlMsMin > 0');
assert(ControlLimits.lockTtlMsMin <= ControlLimits.lockTtlMsMax, 'lockTtlMsMin <= lockTtlMsMax');
assert(
  Number.isSafeInteger(ControlLimits.stampMsMax + ControlLimits.lockTtlMsMax),
  'stampMsMax + lockTtlMsMax is a safe integer',
);
assert(ControlLimits.tenantRetentionMsMin < ControlLimits.tenantRetentionMsMax, 'tenantRetentionMsMin < tenantRetentionMsMax');
assert(ControlLimits.tenantQueryConcurrencyMax >= 1, 'tenantQueryConcurrencyMax >= 1');
assert(ControlLimits.locksMax >= 1, 'locksMax >= 1');
assert(ControlLimits.requestIdsRememberedMax >= 1, 'requestIdsRememberedMax >= 1');
// A put or CAS carrying the largest key, the largest value (twice for CAS: expected and new) and a request id must fit.
assert(
  ControlLimits.commandBytesMax >=
    ControlLimits.kvKeyBytesMax + 2 * ControlLimits.kvValueBytesMax + ControlLimits.requestIdBytesMax + 64,
  'commandBytesMax fits the largest CAS command',
);

/** NodeDefaults are the defaults of a node (DESIGN.md §8 ports). */
export const NodeDefaults = {
  /** peerPort is the default node-to-node port. */
  peerPort: 7400,
  /** apiPort is the default HTTP API port. */
  apiPort: 3200,
  /** otlpGrpcPort and otlpHttpPort are the OTLP receivers' default ports (the OTLP specification's). */
  otlpGrpcPort: 4317,
  otlpHttpPort: 4318,
  /** shardCount is the shard count S of a cluster bootstrapped without --shards (DESIGN.md §4). */
  shardCount: PartitionLimits.shardCountDefault,
  /**
   * shardCountMax bounds --shards: every shard is a Raft group with a tick and
   * a Ready per iteration, and a laptop cluster of 3 nodes carries S*R/3 of
   * them each.
   */
  shardCountMax: 1024,
  /** replicas is the replication factor R of a cluster bootstrapped without --replicas. */
  replicas: PartitionLimits.replicationFactorDefault,
  /** tickMs is the default Raft tick. */
  tickMs: 100,
  tickMsMin: 1,
  tickMsMax: 10_000,
  /** metaGroup is the id of the meta (control) Raft group. */
  metaGroup: 0,
  /** metaVotersMax is how many of the initial members vote in the meta group; the rest are learners. */
  metaVotersMax: 5,
  /** nodeIdMax bounds node ids (they go on the wire as u32 and in metric labels). */
  nodeIdMax: 0xffff_ffff,
  /** clusterId is the default cluster id sent in the transport's Hello. */
  clusterId: 'otlpdb',
} as const;

/** ApiLimits bound what one HTTP request may cost the node. */
export const ApiLimits = {
  /** requestBodyBytesMax: no route reads a body yet, so anything past a small size is refused. */
  requestBodyBytesMax: 64 * 1024,
  /** connectionsMax bounds concurrent HTTP connections. */
  connectionsMax: 1024,
  /** headersTimeoutMs bounds how long a client may take to send its headers. */
  headersTimeoutMs: 10_000,
  /** requestTimeoutMs bounds a whole request. */
  requestTimeoutMs: 30_000,
} as const;
assert(ApiLimits.headersTimeoutMs <= ApiLimits.requestTimeoutMs, 'headers timeout within request timeout');

/** HttpServerLimits bound the HTTP servers of a node (the API on 3200 and the OTLP/HTTP receiver on 4318) alike. */
export const HttpServerLimits = {
  /**
   * keepAliveMsMax is how long a server keeps an idle keep-alive connection
   * after its last response (Node's default is 5 s; Tempo's and Loki's
   * servers keep one 120 s). Node arms this timer when a response ends, and a
   * main thread busy for longer than it (a long flush, a GC pause on a loaded
   * machine) runs the expired timer before reading the request the client
   * has already sent on that connection: the client sees ECONNRESET on a
   * request it cannot know was not read (http-server.test.ts).
   */
  keepAliveMsMax: 120_000,
  /** otlpConnectionsMax bounds the OTLP/HTTP receiver's concurrent connections (the API's bound is ApiLimits.connectionsMax). */
  otlpConnectionsMax: 1024,
  /** otlpHeadersTimeoutMs bounds how long an OTLP/HTTP client may take to send its headers. */
  otlpHeadersTimeoutMs: 30_000,
} as const;
assert(HttpServerLimits.keepAliveMsMax >= 5_000, 'keep connections at least as long as Node\'s default');

/** NodeLimits bound a node's own queues. */
export const NodeLimits = {
  /** inboxMessagesMax bounds messages received but not yet handed to the driver. */
  inboxMessagesMax: DriverLimits.receiveMessagesMax,
  /** httpClientBodyBytesMax bounds a response body a node reads from another node's API (a join answer). */
  httpClientBodyBytesMax: 1024 * 1024,
} as const;

/** ControlApiLimits are the API limits specific to the control routes. */
export const ControlApiLimits = {
  /** idempotencyKeyBytesMax bounds the Idempotency-Key header of a control write. */
  idempotencyKeyBytesMax: ControlLimits.requestIdBytesMax,
  /** kvPutBodyBytesMax bounds the body of PUT /api/v1/kv/{key}: the largest value plus slack, so an oversized value is read and refused by kvValueBytesMax. */
  kvPutBodyBytesMax: ControlLimits.kvValueBytesMax + 4096,
} as const;
assert(ControlApiLimits.kvPutBodyBytesMax >= ApiLimits.requestBodyBytesMax, 'the KV PUT body limit only raises the default');

/** AdminApiLimits are the API limits specific to the admin (fault injection) routes. */
export const AdminApiLimits = {
  /** faultsBodyBytesMax bounds the body of PUT /api/v1/admin/faults/{peer}: four numeric fields fit in far less. */
  faultsBodyBytesMax: 1024,
  /** clockOffsetMsMax bounds |offsetMs| of PUT /api/v1/admin/clock: a day either way is far more skew than any NTP failure and keeps stamps well inside ControlLimits.stampMsMax. */
  clockOffsetMsMax: 86_400_000,
} as const;
assert(AdminApiLimits.faultsBodyBytesMax <= ApiLimits.requestBodyBytesMax, 'the admin body limit only lowers the default');

/** ClusterLimits are the bounds and deadlines of `otlpdb cluster`. */
export const ClusterLimits = {
  /** nodesDefault is the size of a cluster when --nodes is not given. */
  nodesDefault: 3,
  /** nodesMax bounds --nodes: node i takes loopback 127.0.0.i, and .255 is broadcast. */
  nodesMax: 254,
  /** portStepMax bounds --port-step. */
  portStepMax: 1000,
  /** portMax is the highest TCP port. */
  portMax: 65_535,
  /** dirDefault is the cluster directory when --dir is not given. */
  dirDefault: '.otlpdb',
  /** readyDeadlineMs bounds how long `up` waits for every node's /readyz to answer 200. */
  readyDeadlineMs: 120_000,
  /** readyPollMs is the interval of the /readyz polls. */
  readyPollMs: 100,
  /** stopTimeoutMsDefault is how long a node gets after SIGTERM before SIGKILL. */
  stopTimeoutMsDefault: 30_000,
  stopTimeoutMsMax: 600_000,
  /** stopPollMs is the interval of the "is it gone yet" checks while stopping. */
  stopPollMs: 50,
  /** httpTimeoutMs bounds one HTTP request of `up` or `status`. */
  httpTimeoutMs: 10_000,
  /** httpBodyBytesMax bounds a response body `status` reads. */
  httpBodyBytesMax: 16 * 1024 * 1024,
  /** removeTimeoutMsDefault is how long `cluster remove` waits for the node to be moved out and forgotten. */
  removeTimeoutMsDefault: 120_000,
  /** removePollMs is the interval of `cluster remove`'s progress polls. */
  removePollMs: 500,
} as const;

/** KvBenchLimits bound `bench/kv.ts`, the KV write benchmark against etcd: its flags, its waits and its request shape. */
export const KvBenchLimits = {
  /** durationSecDefault is the load time of one concurrency level when --duration is not given. */
  durationSecDefault: 10,
  /** durationSecMax refuses absurd --duration values. */
  durationSecMax: 3600,
  /** connectionsDefault are the concurrency levels when --connections is not given. */
  connectionsDefault: [1, 16, 256],
  /** connectionsMax bounds one concurrency level (file descriptors: each connection is one socket on each side). */
  connectionsMax: 4096,
  /** levelsMax bounds the number of concurrency levels in --connections. */
  levelsMax: 16,
  /**
   * keySpace is how many distinct keys the bench cycles through: request n
   * writes key n mod keySpace. The control KV holds at most kvKeysMax keys
   * (it is a control plane, not a data store), so a fresh key per request
   * would hit that bound after 10,000 writes; half of it leaves room for other
   * keys, and it is far above connectionsMax, so no two requests in flight
   * ever share a key.
   */
  keySpace: ControlLimits.kvKeysMax / 2,
  /** valueBytes is the size of every written value. */
  valueBytes: 64,
  /** warmupSec is the unrecorded load before each system's first level (JIT, connection set-up, first WAL segment). */
  warmupSec: 2,
  /** requestTimeoutSec is autocannon's per-request timeout; a request past it counts as an error. */
  requestTimeoutSec: 10,
  /** startDeadlineMs bounds how long a cluster gets to start and report healthy. */
  startDeadlineMs: 120_000,
  /** pollMs is the interval of the health polls while a cluster starts. */
  pollMs: 100,
  /** stopTimeoutMs is how long a process gets after SIGTERM before SIGKILL. */
  stopTimeoutMs: 15_000,
  /** installTimeoutMs bounds `apt-get update` and `apt-get install` of etcd-server. */
  installTimeoutMs: 600_000,
  /** childOutputBytesMax bounds the output of a child the bench captures (the cluster CLI, bench/wal.js). */
  childOutputBytesMax: 1024 * 1024,
} as const;
assert(KvBenchLimits.durationSecDefault <= KvBenchLimits.durationSecMax, 'kv bench durationSecDefault <= durationSecMax');
assert(KvBenchLimits.connectionsDefault.length <= KvBenchLimits.levelsMax, 'kv bench default levels <= levelsMax');
assert(
  KvBenchLimits.connectionsDefault.every((c) => c >= 1 && c <= KvBenchLimits.connectionsMax),
  'kv bench default connections in [1, connectionsMax]',
);
assert(Number.isSafeInteger(KvBenchLimits.keySpace), 'kv bench keySpace is an integer');
assert(KvBenchLimits.keySpace <= ControlLimits.kvKeysMax, 'kv bench keySpace fits the control KV');
assert(KvBenchLimits.keySpace > KvBenchLimits.connectionsMax, 'kv bench: no two requests in flight share a key');
assert(KvBenchLimits.valueBytes <= ControlLimits.kvValueBytesMax, 'kv bench values fit kvValueBytesMax');
assert(KvBenchLimits.stopTimeoutMs >= KvBenchLimits.pollMs, 'kv bench stopTimeoutMs >= pollMs');

/** ReconcileLimits bound the cluster controller (src/cluster-controller.ts) and graceful shutdown. */
export const ReconcileLimits = {
  /** reconcileIntervalMs is how often a node runs one reconciliation round. */
  reconcileIntervalMs: 250,
  /** reportDeadlineMs bounds one `node.report` call to a peer. */
  reportDeadlineMs: 1000,
  /** reportGroupsMax bounds the groups (and member ids) one node report may list. */
  reportGroupsMax: 4096,
  /** catchUpLagEntriesMax is how far behind the leader's commit a learner may be and still be promoted. */
  catchUpLagEntriesMax: 64,
  /** transferBackoffMs is the least time between two leadership transfers of one group by the controller. */
  transferBackoffMs: 3000,
  /** hostingStepsPerRoundMax bounds the replicas a node opens (and closes) in one round. */
  hostingStepsPerRoundMax: 4,
  /** drainDeadlineMs bounds how long SIGTERM waits for leaderships to move away before the node stops anyway. */
  drainDeadlineMs: 4000,
  /** drainRetryMs is how long a drain waits before asking a group's transfer again. */
  drainRetryMs: 1000,
  /** drainPollMs is how often a drain checks which groups this node still leads. */
  drainPollMs: 25,
  /** shutdownDeadlineMs is the whole SIGTERM budget: drain, stop, fsync, exit. */
  shutdownDeadlineMs: 10_000,
  /** joinDeadlineMs bounds how long `start --join` keeps asking to be recorded. */
  joinDeadlineMs: 60_000,
  /** learnedPeersMax bounds the peers a join answer may add before the meta state takes over. */
  learnedPeersMax: 1024,
  /** joinRequestTimeoutMs bounds one join request (the member may forward it to the meta leader and wait for the commit). */
  joinRequestTimeoutMs: 5000,
  /** joinRetryMs is the pause between two join attempts. */
  joinRetryMs: 500,
  /** moveViewRefreshMs is how often a controller renews its cluster-wide view of replica moves (one shard moves at a time). */
  moveViewRefreshMs: 1000,
} as const;
assert(ReconcileLimits.drainDeadlineMs < ReconcileLimits.shutdownDeadlineMs, 'the drain leaves time to stop within the shutdown budget');
assert(ReconcileLimits.drainPollMs < ReconcileLimits.drainRetryMs, 'drain polls faster than it retries');

/**
 * StorageLimits bound the shard write entry (src/storage/shard-entry.ts), the
 * idempotency window, storage blocks, bloom filters and the log tokenizer.
 * Decoding a stored entry checks every count and length against these, so a
 * corrupt entry can never make a replica allocate without bound.
 */
export const StorageLimits = {
  /** entryBytesMax bounds one encoded shard entry (one Raft entry); the receiver splits larger shard parts. */
  entryBytesMax: 8 * 1024 * 1024,
  /** entryWriterScratchBytesMax bounds the scratch of the direct entry writer (entry-writer.ts): one entry plus one string's room; past it the writer declines. */
  entryWriterScratchBytesMax: 8 * 1024 * 1024 + 4096,
  /** rowsPerEntryMax bounds spans + points + logs of one shard entry. */
  rowsPerEntryMax: 100_000,
  /** tenantBytesMax bounds the UTF-8 length of the tenant id carried by an entry (the same bound as a tenant setting). */
  tenantBytesMax: ControlLimits.tenantIdBytesMax,
  /** stringBytesMax bounds the UTF-8 length of every stored string (names, keys, string values, log bodies, URLs). */
  stringBytesMax: 256 * 1024,
  /** bytesValueBytesMax bounds one bytes-typed AnyValue. */
  bytesValueBytesMax: 256 * 1024,
  /**
   * idSlabBytes is the size of one slab a decoder copies trace and span ids
   * into (wire-reader.ts): the ids of ~170 spans share one ArrayBuffer instead
   * of one each. A slab lives while any id in it does.
   */
  idSlabBytes: 4096,
  /**
   * storedReaderEntriesMax is how many consecutive entries decodeShardEntry
   * decodes with one stored-mode reader before starting a fresh one
   * (shard-entry.ts STORED_READER): the interned keys, values and pairs and
   * the id slab are shared between them.
   */
  storedReaderEntriesMax: 64,
  /**
   * logStringCacheSlots is the size of log-entry-decode.ts's string cache (a
   * direct-mapped table, power of two): short strings met again are returned
   * from it instead of being decoded and built once more.
   */
  logStringCacheSlots: 4096,
  /** logStringCacheBytesMax is the longest string (UTF-8 bytes) that cache keeps. */
  logStringCacheBytesMax: 32,
  /**
   * logPairCacheSlots is the size of log-entry-decode.ts's attribute pair
   * cache (a direct-mapped table, power of two): a pair (key and short
   * scalar value) met again is returned from it instead of being decoded.
   */
  logPairCacheSlots: 4096,
  /** logPairCacheBytesMax is the longest attribute pair (msgpack bytes of the key and the value) that cache keeps. */
  logPairCacheBytesMax: 64,
  /** logTableCacheEntriesMax bounds the resource tables, and apart the scope tables, log-table-cache.ts keeps (emptied when full). */
  logTableCacheEntriesMax: 1024,
  /** logTableCacheKeyBytesMax is the longest table (bytes) log-table-cache.ts keeps; longer tables are decoded every time. */
  logTableCacheKeyBytesMax: 4096,
  /** asciiMemoBytesMax is the longest string an AsciiMemo (entry-scan.ts) keeps: a tenant id or an idempotency key. */
  asciiMemoBytesMax: 256,
  /** internScanEntriesMax is the resource or scope table length from which EntryWriter finds a table's bytes through a map instead of comparing them entry by entry. */
  internScanEntriesMax: 8,
  /** resourceLabelNamesMax bounds the memo of resource attribute keys to label names (series-identity.ts; cleared when full). */
  resourceLabelNamesMax: 4096,
  /** internedKeysPerReaderMax bounds the distinct attribute keys one decoder shares between the rows of one message. */
  internedKeysPerReaderMax: 1024,
  /** internedValuesPerReaderMax bounds the distinct attribute values one decoder shares between the rows of one message. */
  internedValuesPerReaderMax: 4096,
  /** internedValueCharsMax is the longest string attribute value (UTF-16 units) a decoder shares; longer ones are rarely repeated. */
  internedValueCharsMax: 64,
  /** attributesPerListMax bounds the key/value pairs of one attribute list (or one kvlist AnyValue). */
  attributesPerListMax: 1024,
  /** anyValueDepthMax bounds the nesting of array/kvlist AnyValues; a scalar at the top is depth 1. */
  anyValueDepthMax: 8,
  /** anyValueArrayElementsMax bounds the elements of one array AnyValue. */
  anyValueArrayElementsMax: 4096,
  /** eventsPerSpanMax bounds the events of one span. */
  eventsPerSpanMax: 1024,
  /** linksPerSpanMax bounds the links of one span. */
  linksPerSpanMax: 1024,
  /** exemplarsPerPointMax bounds the exemplars of one metric point. */
  exemplarsPerPointMax: 256,
  /** histogramBucketsMax bounds the buckets of one explicit histogram point and of each side of an exponential one. */
  histogramBucketsMax: 4096,
  /** summaryQuantilesMax bounds the quantiles of one summary point. */
  summaryQuantilesMax: 256,
  /** idempotencyWindowMsDefault is how long an applied idempotency key is remembered (entry time, not a replica clock). */
  idempotencyWindowMsDefault: 15 * 60 * 1000,
  /**
   * idempotencyKeysDefault bounds the remembered (key, part) pairs of one shard
   * replica; past it the oldest are evicted first and counted. About 80 bytes
   * of heap per pair, so 16 MB per replica; it covers ~220 requests per second
   * per shard over the default window before the window effectively shortens.
   */
  idempotencyKeysDefault: 200_000,
  /** idempotencyKeysMax bounds idempotencyKeysDefault and any configured or restored count. */
  idempotencyKeysMax: 10_000_000,
  /** idempotencyWindowMsMax bounds a configured or restored window (one week). */
  idempotencyWindowMsMax: 7 * 24 * 60 * 60 * 1000,
  /** blockPayloadBytesMax bounds the payload of one sealed storage block. */
  blockPayloadBytesMax: 256 * 1024 * 1024,
  /** bloomFalsePositiveTarget is the false-positive probability a per-block bloom filter is sized for (1%). */
  bloomFalsePositiveTarget: 0.01,
  /** bloomItemsMax bounds the distinct items of one bloom filter. */
  bloomItemsMax: 10_000_000,
  /** bloomHashesMax bounds the hash functions of one stored bloom filter (a decode check). */
  bloomHashesMax: 32,
  /** tokensPerLineMax bounds the tokens the tokenizer emits for one log line; later tokens are dropped and counted. */
  tokensPerLineMax: 1024,
  /** tokenCharsMax bounds one token's length in UTF-16 code units; longer tokens are truncated to it and counted. */
  tokenCharsMax: 128,
} as const;
assert(StorageLimits.entryBytesMax <= WalLimits.recordBytesMax, 'a shard entry fits one WAL record');
assert(StorageLimits.entryWriterScratchBytesMax > StorageLimits.entryBytesMax, 'the entry writer can hold any entry it may return');
assert(StorageLimits.entryBytesMax <= StorageLimits.blockPayloadBytesMax, 'an entry fits one block');
assert(StorageLimits.rowsPerEntryMax >= 1, 'rowsPerEntryMax >= 1');
assert((StorageLimits.logStringCacheSlots & (StorageLimits.logStringCacheSlots - 1)) === 0, 'logStringCacheSlots is a power of two');
assert(StorageLimits.logStringCacheBytesMax >= 1 && StorageLimits.logStringCacheBytesMax <= 0x7fff, 'a cached string length fits an Int16Array');
assert((StorageLimits.logPairCacheSlots & (StorageLimits.logPairCacheSlots - 1)) === 0, 'logPairCacheSlots is a power of two');
assert(StorageLimits.logPairCacheBytesMax >= 2 && StorageLimits.logPairCacheBytesMax <= 0x7fff, 'a cached pair length fits an Int16Array');
assert(StorageLimits.idSlabBytes >= 16 && StorageLimits.idSlabBytes <= 64 * 1024, 'an id slab holds a trace id and stays small');
assert(StorageLimits.tenantBytesMax <= StorageLimits.stringBytesMax, 'tenantBytesMax <= stringBytesMax');
assert(StorageLimits.anyValueDepthMax >= 2, 'AnyValue nests at least one level');
assert(StorageLimits.idempotencyWindowMsDefault > 0, 'idempotency window > 0');
assert(StorageLimits.idempotencyKeysDefault >= 1, 'idempotencyKeysDefault >= 1');
assert(StorageLimits.idempotencyKeysDefault <= StorageLimits.idempotencyKeysMax, 'idempotencyKeysDefault <= idempotencyKeysMax');
assert(StorageLimits.idempotencyWindowMsDefault <= StorageLimits.idempotencyWindowMsMax, 'idempotency window default <= max');
assert(
  StorageLimits.bloomFalsePositiveTarget > 0 && StorageLimits.bloomFalsePositiveTarget < 1,
  'bloomFalsePositiveTarget in (0, 1)',
);
assert(StorageLimits.tokensPerLineMax >= 1 && StorageLimits.tokenCharsMax >= 8, 'the tokenizer keeps at least a hex id');

/**
 * OtlpLimits bound the OTLP decoders (src/otlp): what one request may hold and
 * what one item may carry before it is cut or refused (see src/otlp/README.md
 * for which limit cuts and which refuses).
 */
export const OtlpLimits = {
  /** itemsPerRequestMax bounds the spans, points or log records of one request; more refuses the request (ERR_LIMIT_EXCEEDED). */
  itemsPerRequestMax: 100_000,
  /** rejectionsListedMax bounds the rejections a decode result lists (all are counted). */
  rejectionsListedMax: 16,
  /** attributesPerItemMax bounds the attributes kept per resource, scope, span, event, link or log record; the rest are dropped and added to droppedAttributesCount (points and exemplars, which have no such count, are refused instead). */
  attributesPerItemMax: 256,
  /** attributeValueBytesMax is the UTF-8 length an attribute string value (nested ones too) is truncated to, at a character boundary. */
  attributeValueBytesMax: 64 * 1024,
  /** timestampPastMsMax is how far before the request's now an item's time may lie (7 days, Loki's reject_old_samples_max_age). */
  timestampPastMsMax: 7 * 24 * 3_600_000,
  /** timestampFutureMsMax is how far after the request's now an item's time may lie (clock skew; Loki's creation grace period). */
  timestampFutureMsMax: 10 * 60_000,
  /** protoGroupDepthMax bounds the nesting of deprecated protobuf groups skipped as unknown fields. */
  protoGroupDepthMax: 32,
  /** jsonFieldPathCharsMax bounds the field path quoted in a JSON framing error message. */
  jsonFieldPathCharsMax: 256,
} as const;
assert(OtlpLimits.itemsPerRequestMax <= StorageLimits.rowsPerEntryMax, 'one request fits one shard entry by row count');
assert(OtlpLimits.rejectionsListedMax >= 1, 'a result lists at least one rejection');
assert(OtlpLimits.attributesPerItemMax >= 1, 'attributesPerItemMax >= 1');
assert(OtlpLimits.attributesPerItemMax <= StorageLimits.attributesPerListMax, 'kept attributes fit a stored list');
assert(OtlpLimits.attributeValueBytesMax >= 4, 'a truncated value holds one character');
assert(OtlpLimits.attributeValueBytesMax <= StorageLimits.stringBytesMax, 'a truncated value fits a stored string');
assert(OtlpLimits.timestampPastMsMax > 0 && OtlpLimits.timestampFutureMsMax > 0, 'the timestamp window is not empty');
assert(OtlpLimits.protoGroupDepthMax >= 1, 'protoGroupDepthMax >= 1');

/** CodecLimits bound the storage codecs (src/storage/codec): chunk sizes, column sizes and value ranges. */
export const CodecLimits = {
  /** chunkSamplesDefault is how many samples encodeSeries puts in one chunk (Prometheus-like: 2 h at 1 min). */
  chunkSamplesDefault: 120,
  /** chunkSamplesMax bounds the samples of one encoded chunk; a decoder refuses a larger count as corruption. */
  chunkSamplesMax: 65_536,
  /** timestampColumnSamplesMax bounds the times of one shared timestamp column (timestamp-column.ts): 2 h at ~7 ms; a longer run keeps its own timestamps. */
  timestampColumnSamplesMax: 1 << 20,
  /** timestampMsAbsMax bounds |timestamp| in ms (2^50 ms ~ 35,700 years) so that deltas and deltas-of-deltas stay exact doubles. */
  timestampMsAbsMax: 2 ** 50,
  /** decimalDigitsMax is the most decimal digits after the point the decimal value codec scales away. */
  decimalDigitsMax: 9,
  /** decimalScaledAbsMax bounds |value × 10^digits| in the decimal codec so deltas-of-deltas stay exact doubles. */
  decimalScaledAbsMax: 2 ** 50,
  /** stringColumnValuesMax bounds the rows of one string column. */
  stringColumnValuesMax: 1_000_000,
  /** stringBytesMax bounds the UTF-8 length of one string in a string column. */
  stringBytesMax: 1024 * 1024,
  /** postingsIdsMax bounds the ids of one postings list. */
  postingsIdsMax: 64 * 1024 * 1024,
  /** writerInitialBytes is the starting size of a codec's growable write buffer. */
  writerInitialBytes: 256,
  /** writerBytesMax bounds any one encoded codec output (a chunk, a column, a postings list). */
  writerBytesMax: 512 * 1024 * 1024,
  /** varintBytesMax is the longest unsigned LEB128 varint read for integers up to 2^53-1 (ceil(53/7)). */
  varintBytesMax: 8,
} as const;
assert(CodecLimits.chunkSamplesDefault >= 1, 'chunkSamplesDefault >= 1');
assert(CodecLimits.timestampColumnSamplesMax >= CodecLimits.chunkSamplesDefault, 'a timestamp column holds at least one default chunk');
assert(CodecLimits.chunkSamplesDefault <= CodecLimits.chunkSamplesMax, 'chunkSamplesDefault <= chunkSamplesMax');
// A delta-of-delta of timestamps is at most 4 × timestampMsAbsMax and must stay exact.
assert(4 * CodecLimits.timestampMsAbsMax <= 2 ** 53, 'timestamp deltas-of-deltas are exact doubles');
assert(4 * CodecLimits.decimalScaledAbsMax <= 2 ** 53, 'decimal deltas-of-deltas are exact doubles');
// 10^digits must be an exact double (10^22 is the largest) so value = scaled / 10^digits rounds once.
assert(CodecLimits.decimalDigitsMax >= 0 && CodecLimits.decimalDigitsMax <= 22, 'decimalDigitsMax in [0, 22]');
assert(CodecLimits.decimalDigitsMax < 256, 'decimal digits fit one header byte');
assert(CodecLimits.postingsIdsMax <= 2 ** 32, 'postings ids are u32');
assert(CodecLimits.writerInitialBytes > 0, 'writerInitialBytes > 0');
assert(CodecLimits.writerInitialBytes <= CodecLimits.writerBytesMax, 'writerInitialBytes <= writerBytesMax');
assert(CodecLimits.writerBytesMax <= 2 ** 31 - 1, 'writer buffers fit a Uint8Array index');
assert(CodecLimits.varintBytesMax * 7 >= 53, 'varintBytesMax covers 53 bits');
assert(CodecLimits.stringBytesMax <= CodecLimits.writerBytesMax, 'stringBytesMax <= writerBytesMax');

/**
 * CompressionBenchLimits bound `bench/compression.ts` (bytes per sample of the
 * metric chunk codecs) and its TSBS-devops generator
 * (bench/compression-data/tsbs-devops.ts), so a typo in a flag cannot ask for
 * a terabyte; it also holds the issue's bytes-per-sample targets, which the
 * bench prints as met or not met.
 */
export const CompressionBenchLimits = {
  /** tsbsDevops bounds one generator run (re-exported there as TsbsDevopsLimits). */
  tsbsDevops: {
    /** hostsMax bounds the hosts of one run. */
    hostsMax: 100_000,
    /** samplesPerSeriesMax bounds floor(durationMs / intervalMs). */
    samplesPerSeriesMax: 10_000_000,
    /** intervalMsMin is the shortest sampling interval. */
    intervalMsMin: 1,
  },
  /** hostsDefault is --hosts when not given: TSBS devops at scale 100. */
  hostsDefault: 100,
  /** hoursDefault is --hours when not given: TSBS's one day. */
  hoursDefault: 24,
  /** hoursMax bounds --hours (30 days: 259,200 samples per series at 10 s). */
  hoursMax: 720,
  /** chunkSamplesList are the chunk sizes measured; the first is the codec's default and the one the targets judge. */
  chunkSamplesList: [120, 240, 480],
  /** tsbsBytesPerSampleTarget is the issue's target for the TSBS-devops workload at the default chunk size. */
  tsbsBytesPerSampleTarget: 2.0,
  /** nodeRuntimeBytesPerSampleTarget is the issue's target for the real Node runtime capture at the default chunk size. */
  nodeRuntimeBytesPerSampleTarget: 1.0,
} as const;
assert(CompressionBenchLimits.tsbsDevops.hostsMax >= 1, 'compression bench: hostsMax >= 1');
assert(CompressionBenchLimits.tsbsDevops.intervalMsMin >= 1, 'compression bench: intervalMsMin >= 1');
assert(CompressionBenchLimits.hostsDefault >= 1, 'compression bench: hostsDefault >= 1');
assert(CompressionBenchLimits.hostsDefault <= CompressionBenchLimits.tsbsDevops.hostsMax, 'compression bench: hostsDefault <= hostsMax');
assert(CompressionBenchLimits.hoursDefault >= 1, 'compression bench: hoursDefault >= 1');
assert(CompressionBenchLimits.hoursDefault <= CompressionBenchLimits.hoursMax, 'compression bench: hoursDefault <= hoursMax');
// --hours at TSBS's 10 s interval must stay within the generator's per-series bound.
assert(CompressionBenchLimits.hoursMax * 360 <= CompressionBenchLimits.tsbsDevops.samplesPerSeriesMax, 'compression bench: hoursMax fits samplesPerSeriesMax');
assert(CompressionBenchLimits.chunkSamplesList[0] === CodecLimits.chunkSamplesDefault, 'compression bench: the first chunk size is the codec default');
assert(
  CompressionBenchLimits.chunkSamplesList.every((n) => n >= 1 && n <= CodecLimits.chunkSamplesMax),
  'compression bench: chunk sizes in [1, chunkSamplesMax]',
);
assert(CompressionBenchLimits.nodeRuntimeBytesPerSampleTarget > 0, 'compression bench: targets > 0');
assert(CompressionBenchLimits.tsbsBytesPerSampleTarget > 0, 'compression bench: targets > 0');

/**
 * MetricHeadLimits bound the in-memory metrics head of one shard replica
 * (src/storage/metrics): its series, bytes, labels and the matchers of a
 * select. Every refusal they cause is a per-sample outcome, identical on every
 * replica, because every figure here is computed from the applied samples only.
 */
export const MetricHeadLimits = {
  /** headBytesMax bounds the accounted bytes of one head (chunks + open buffers + index estimate); past it appends are refused until a flush. */
  headBytesMax: 256 * 1024 * 1024,
  /** seriesMax bounds the series of one head; a new series past it is refused (ERR_LIMIT_EXCEEDED, not retryable). */
  seriesMax: 1_000_000,
  /** labelsPerSeriesMax bounds the label pairs of one series, the metric name excluded. */
  labelsPerSeriesMax: 64,
  /** labelNameBytesMax bounds the length of one label name (ASCII by the charset rule). */
  labelNameBytesMax: 256,
  /** labelValueBytesMax bounds the UTF-8 length of one label value. */
  labelValueBytesMax: 4096,
  /** metricNameBytesMax bounds the UTF-8 length of a metric name. */
  metricNameBytesMax: 1024,
  /** tenantBytesMax bounds the UTF-8 length of a tenant id as the head sees it. */
  tenantBytesMax: 256,
  /** seriesKeyBytesMax bounds the canonical byte form of one series identity. */
  seriesKeyBytesMax: 64 * 1024,
  /** batchSamplesMax bounds the samples of one appendBatch call. */
  batchSamplesMax: 1_000_000,
  /** openSamplesInitial is the starting capacity (samples) of a series' open buffer; it doubles up to the chunk size. */
  openSamplesInitial: 8,
  /** seriesOverheadBytes is the accounted fixed cost of one series (registry entry, per-series state, map slots). */
  seriesOverheadBytes: 256,
  /** postingOverheadBytes is the accounted cost of one series id in one postings list. */
  postingOverheadBytes: 4,
  /** labelValueOverheadBytes is the accounted fixed cost of a label=value pair the tenant had not seen (map entry, postings object). */
  labelValueOverheadBytes: 96,
  /** chunkOverheadBytes is the accounted fixed cost of one encoded chunk beyond its bytes (array slot, min/max times). */
  chunkOverheadBytes: 32,
  /** matchersMax bounds the matchers of one select. */
  matchersMax: 64,
  /** regexBytesMax bounds the source length of one regex matcher. */
  regexBytesMax: 4096,
} as const;
assert(MetricHeadLimits.seriesMax >= 1, 'seriesMax >= 1');
// Series ids are shard-local u32s held in Uint32Array postings.
assert(MetricHeadLimits.seriesMax <= CodecLimits.postingsIdsMax, 'seriesMax <= postingsIdsMax');
assert(MetricHeadLimits.seriesMax < 2 ** 32, 'series ids are u32');
assert(MetricHeadLimits.openSamplesInitial >= 1, 'openSamplesInitial >= 1');
assert(MetricHeadLimits.openSamplesInitial <= CodecLimits.chunkSamplesDefault, 'openSamplesInitial <= chunkSamplesDefault');
assert(MetricHeadLimits.labelNameBytesMax <= MetricHeadLimits.seriesKeyBytesMax, 'one label name fits a series key');
assert(MetricHeadLimits.labelValueBytesMax <= MetricHeadLimits.seriesKeyBytesMax, 'one label value fits a series key');
// One series at its largest must fit a head many times over.
assert(MetricHeadLimits.seriesKeyBytesMax * 16 <= MetricHeadLimits.headBytesMax, 'a head holds many maximal series');
assert(MetricHeadLimits.matchersMax >= 1, 'matchersMax >= 1');
assert(MetricHeadLimits.regexBytesMax >= 1, 'regexBytesMax >= 1');

/**
 * LogBlockLimits bound one immutable log block and its term index
 * (src/storage/logs): rows, streams, rendered lines, distinct terms, and the
 * size of one block query. A block is built from applied rows only, so every
 * refusal here is identical on every replica.
 */
export const LogBlockLimits = {
  /** streamMemoLevelsPerResourceMax bounds the levels whose stream labels log-line.ts keeps per resource object. */
  streamMemoLevelsPerResourceMax: 32,
  /** lineColumnBytesMax bounds the unpacked line column of one block (an inflate never grows past it). */
  lineColumnBytesMax: 256 * 1024 * 1024,
  /**
   * pageRows is the rows of one page of a block (version 3): the unit a read
   * decodes. 16,384 realistic rows (log-block.test.ts's generator): 888 KB
   * unpaged, 918 KB in pages of 512 (+3%), 943 KB of 256 (+6%), 984 KB of 128
   * (+11%); a page of 256 decodes in about a third of the time of one of 512.
   */
  pageRows: 256,
  /** pageRowsMax bounds the page size a stored block may declare. */
  pageRowsMax: 65_536,
  /** lineDeflateLevel is the zlib level of the line column (6: zlib's default trade of size for speed). */
  lineDeflateLevel: 6,
  /** rowsPerBlockMax bounds the log rows of one block (row ordinals are u32 postings ids). */
  rowsPerBlockMax: 1_000_000,
  /** renderedCharsMax bounds the line (UTF-16 units) rendered from a non-string body or a non-string label value; longer renderings are cut (the exact value stays in the block). */
  renderedCharsMax: 64 * 1024,
  /** streamsPerBlockMax bounds the distinct streams (label sets) of one block. */
  streamsPerBlockMax: 100_000,
  /** labelsPerStreamMax bounds the labels of one stream: every resource attribute plus `level`. */
  labelsPerStreamMax: StorageLimits.attributesPerListMax + 1,
  /** termsPerBlockMax bounds the distinct terms of one block's index (each is one bloom item). */
  termsPerBlockMax: 1_000_000,
  /**
   * termEntriesChunkBytesTarget is where a version 3 log index cuts its term
   * entries into values of their own (term-entries.ts): a chunk takes whole
   * terms until it holds this many entry bytes. A lookup reads the chunks of
   * the terms it names, so smaller reads less a query and writes more keys a
   * block (~20 a 16,384-row block of the bench's lines at 32 KiB).
   */
  termEntriesChunkBytesTarget: 32 * 1024,
  /** queryTermsMax bounds the terms of one block query. */
  queryTermsMax: 64,
  /** queryPhrasesMax bounds the phrases of one block query. */
  queryPhrasesMax: 16,
  /** phraseTermsMax bounds the terms of one phrase. */
  phraseTermsMax: 32,
  /** streamMatchersMax bounds the stream matchers of one block query. */
  streamMatchersMax: 64,
} as const;
assert(LogBlockLimits.rowsPerBlockMax >= 1, 'rowsPerBlockMax >= 1');
assert(LogBlockLimits.pageRows >= 1 && LogBlockLimits.pageRows <= LogBlockLimits.pageRowsMax, '1 <= pageRows <= pageRowsMax');
assert(LogBlockLimits.rowsPerBlockMax <= CodecLimits.stringColumnValuesMax, 'a block column fits one string column');
assert(LogBlockLimits.rowsPerBlockMax <= CodecLimits.postingsIdsMax, 'row ordinals fit one postings list');
// A rendered line is at most 3 UTF-8 bytes per UTF-16 unit and must fit a string column row.
assert(LogBlockLimits.renderedCharsMax * 3 <= CodecLimits.stringBytesMax, 'a rendered line fits a string column row');
assert(StorageLimits.stringBytesMax <= CodecLimits.stringBytesMax, 'a string body fits a string column row');
assert(LogBlockLimits.streamsPerBlockMax <= LogBlockLimits.rowsPerBlockMax, 'streamsPerBlockMax <= rowsPerBlockMax');
assert(LogBlockLimits.termsPerBlockMax <= StorageLimits.bloomItemsMax, 'every term fits the block bloom');
assert(LogBlockLimits.termsPerBlockMax <= CodecLimits.stringColumnValuesMax, 'the term dictionary fits one string column');
assert(LogBlockLimits.queryTermsMax >= 1 && LogBlockLimits.queryPhrasesMax >= 1, 'a query may hold a term and a phrase');
assert(LogBlockLimits.phraseTermsMax >= 2, 'a phrase may hold two terms');
assert(LogBlockLimits.lineColumnBytesMax <= CodecLimits.writerBytesMax, 'an unpacked line column fits a codec buffer');
assert(LogBlockLimits.lineDeflateLevel >= 1 && LogBlockLimits.lineDeflateLevel <= 9, 'a zlib level');
assert(LogBlockLimits.streamMatchersMax >= 1, 'streamMatchersMax >= 1');

/**
 * SpanBlockLimits bound one columnar span block and its index
 * (src/storage/traces): rows per block, and how much of the attribute space
 * the per-block index may hold. A key past a bound is not indexed but kept in
 * the block and recorded as skipped, so a query on it scans instead.
 */
export const SpanBlockLimits = {
  /** rowsMax bounds the spans of one block (row ordinals are u32 postings ids). */
  rowsMax: 1_000_000,
  /** traceIdsMax bounds the distinct trace ids of one block (the trace-id dictionary and the bloom filter). */
  traceIdsMax: 1_000_000,
  /** attributeKeysMax bounds the distinct attribute keys (span, event, link) of one block's key dictionary. */
  attributeKeysMax: 1_000_000,
  /** attrValuesPerKeyMax is the most distinct values one attribute key may have in a block and still be indexed. */
  attrValuesPerKeyMax: 64,
  /** attrValueBytesMax is the longest indexed attribute value (UTF-16 code units); a key with a longer value is not indexed. */
  attrValueBytesMax: 256,
  /** indexedKeysMax bounds the attribute keys indexed in one block; keys seen after it are skipped. */
  indexedKeysMax: 1024,
  /** bloomFalsePositiveTarget is the trace-id bloom filter's false-positive target. */
  bloomFalsePositiveTarget: StorageLimits.bloomFalsePositiveTarget,
  /**
   * skippedTermsFalsePositiveTarget is the target of the bloom filter of the
   * skipped keys' key=value terms (10%: the filter holds a term per distinct
   * value of every high-cardinality key — on bench/trace-store's spans two
   * per span — so it is sized to keep index/data under 10%: 4.8 bits a term,
   * 9.4% in all, where 5% gave 9.9% and 1% would give 11%).
   */
  skippedTermsFalsePositiveTarget: 0.1,
  /** skippedTermsMax bounds the distinct skipped-key terms one block's bloom holds; past it the block keeps no such filter (queries on skipped keys then scan it). */
  skippedTermsMax: 1_000_000,
} as const;
assert(SpanBlockLimits.rowsMax >= 1, 'span block rowsMax >= 1');
assert(SpanBlockLimits.skippedTermsFalsePositiveTarget > 0 && SpanBlockLimits.skippedTermsFalsePositiveTarget < 1, 'skippedTermsFalsePositiveTarget in (0, 1)');
assert(SpanBlockLimits.skippedTermsMax <= StorageLimits.bloomItemsMax, 'skipped terms fit one bloom filter');
assert(SpanBlockLimits.rowsMax <= CodecLimits.stringColumnValuesMax, 'a span block string column fits a codec string column');
assert(SpanBlockLimits.rowsMax <= CodecLimits.postingsIdsMax, 'span block row ordinals fit a postings list');
assert(SpanBlockLimits.traceIdsMax <= SpanBlockLimits.rowsMax, 'traceIdsMax <= rowsMax');
assert(SpanBlockLimits.traceIdsMax <= StorageLimits.bloomItemsMax, 'trace ids fit one bloom filter');
assert(SpanBlockLimits.attributeKeysMax >= StorageLimits.attributesPerListMax, 'one maximal attribute list fits a block');
assert(SpanBlockLimits.attrValuesPerKeyMax >= 1, 'attrValuesPerKeyMax >= 1');
assert(SpanBlockLimits.attrValueBytesMax >= 16, 'attrValueBytesMax holds a short value');
assert(SpanBlockLimits.indexedKeysMax >= 1, 'indexedKeysMax >= 1');

/**
 * SpanPageLimits bound the pages of a paged span block (format 2 of
 * src/storage/traces/span-block.ts): a trace-by-id lookup checks (CRC32C)
 * and decodes only the pages that hold its trace, not the whole block.
 */
export const SpanPageLimits = {
  /**
   * pageRowsDefault is the rows of one page (a block's last page may hold
   * fewer). Smaller pages make a lookup touch fewer bytes; every page costs
   * a directory row (13 varints), a CRC32C and its own string dictionaries.
   */
  pageRowsDefault: 256,
  /** pageRowsMax bounds the rows of one page a reader accepts. */
  pageRowsMax: 65_536,
} as const;
assert(SpanPageLimits.pageRowsDefault >= 1, 'a page holds at least one row');
assert(SpanPageLimits.pageRowsDefault <= SpanPageLimits.pageRowsMax, 'pageRowsDefault <= pageRowsMax');
assert(SpanPageLimits.pageRowsMax <= SpanBlockLimits.rowsMax, 'a page fits a block');

/** ShardDbLimits bound one shard replica's LevelDB access (src/storage/shard/shard-db.ts). */
export const ShardDbLimits = {
  /** keyBytesMax bounds one LevelDB key a store writes. */
  keyBytesMax: 64 * 1024,
  /** valueBytesMax bounds one LevelDB value (a block, an index, a chunk run); stores cut blocks to fit, so a snapshot page of one value fits a peer frame. */
  valueBytesMax: 12 * 1024 * 1024,
  /** scanPageEntriesMax bounds the entries of one scan page. */
  scanPageEntriesMax: 1024,
} as const;
assert(ShardDbLimits.keyBytesMax >= 256, 'a key holds a tenant and its fields');
assert(ShardDbLimits.valueBytesMax >= StorageLimits.entryBytesMax, 'a value holds at least one entry worth of rows');
assert(ShardDbLimits.scanPageEntriesMax >= 1, 'scanPageEntriesMax >= 1');

/** StoreLimits bound what the signal stores of a shard report and hold (src/storage/shard/signal-store.ts). */
export const StoreLimits = {
  /** refusalsReportedMax bounds the refused rows an add() lists (the count covers all of them). */
  refusalsReportedMax: 16,
  /** traceBucketNs is the time bucket of span blocks (by span start): 1 hour. */
  traceBucketNs: 3_600_000_000_000n,
  /** logBucketNs is the time bucket of log blocks (by record time): 1 hour. */
  logBucketNs: 3_600_000_000_000n,
  /** blockRowsMax bounds the rows of one span or log block; a larger head part is cut into several blocks. */
  blockRowsMax: 65_536,
  /** blockBytesTarget: a span block is cut once its rows' estimated head bytes reach this (encoded blocks are smaller than the estimate). */
  blockBytesTarget: 4 * 1024 * 1024,
} as const;
assert(StoreLimits.refusalsReportedMax >= 1, 'at least one refusal is reported');
assert(StoreLimits.blockRowsMax >= 1, 'blockRowsMax >= 1');
// One span is at most one entry; a block cut at the target plus that span still fits a LevelDB value.
assert(StoreLimits.blockBytesTarget + StorageLimits.entryBytesMax <= ShardDbLimits.valueBytesMax, 'a cut span block fits one value');

/** ShardLimits bound one shard replica's state machine (src/storage/shard/shard-state-machine.ts). */
export const ShardLimits = {
  /** headBytesSoftMax: past it the head asks for a flush. */
  headBytesSoftMax: 64 * 1024 * 1024,
  /** headBytesHardMax: past it the driver flushes before applying more (and proposers are refused with a retryable error). */
  headBytesHardMax: 256 * 1024 * 1024,
  /**
   * nodeHeadHeapPercent: the heads of all a node's replicas together are
   * bounded by this share of V8's heap limit (HeadBudget's hard bound,
   * head-budget.ts); past nodeHeadSoftPercent of that bound the largest heads
   * flush early. 16 replicas at headBytesSoftMax (1 GiB) stay under the soft
   * bound of a default 4 GiB heap, so it only acts when flushes fall behind.
   * Accounted head bytes overstate the V8 heap they take (entry bytes kept
   * as ArrayBuffers live outside it): in a 1-node ingest run, 1.69 GB of
   * accounted heads went with 0.92 GB of heap used. At 50% the budget
   * refused writes in that run's last phase (logs over gRPC 9.3k items/s,
   * 16 refusals, the node half idle behind its flushes); 75% leaves room for
   * that and still bounds the sum.
   */
  nodeHeadHeapPercent: 75,
  nodeHeadSoftPercent: 75,
  /** headAgeMsMax: a head older than this asks for a flush (wall clock, local to the replica). */
  headAgeMsMax: 5 * 60 * 1000,
  /**
   * flushStepShareMax: the share of a node's main thread its flush steps may take while they queue
   * (flush-pacer.ts): after a step of s ms the next one waits s·(1 − share)/share ms (at most
   * flushPauseMsMax), so requests, Raft and apply keep the rest.
   */
  flushStepShareMax: 0.5,
  /** flushPauseMsMax bounds one pause between two flush steps (flush-pacer.ts). */
  flushPauseMsMax: 500,
  /**
   * flushIdleWorkMsMax: when the other work of the event-loop turn a pacer yields to before a flush step
   * took less than this, nothing else wants the thread and the step runs without its pause (flush-pacer.ts):
   * an admin flush of an idle node took about 1.6x its unpaced wall time with the pause always on.
   */
  flushIdleWorkMsMax: 1,
  /** refusalsPerResultMax bounds the refused rows one apply result lists. */
  refusalsPerResultMax: 16,
  /** snapshotPageEntriesMax bounds the key/value pairs of one snapshot page. */
  snapshotPageEntriesMax: 1024,
  /** snapshotPageBytesMax: a page stops growing once it holds this many bytes (plus one value at most). */
  snapshotPageBytesMax: 2 * 1024 * 1024,
  /** snapshotSessionsMax bounds the snapshot streams one replica serves at once. */
  snapshotSessionsMax: 4,
  /** snapshotSessionIdleMsMax: a stream not read for this long is closed. */
  snapshotSessionIdleMsMax: 30_000,
  /** snapshotPageDeadlineMs is the deadline of one page call. */
  snapshotPageDeadlineMs: 30_000,
  /** snapshotPagesMax bounds the pages of one stream (a peer cannot keep a fetch going forever). */
  snapshotPagesMax: 10_000_000,
  /** retentionIntervalMs: a retention pass runs with the first flush after this long. */
  retentionIntervalMs: 10 * 60 * 1000,
} as const;
assert(ShardLimits.headBytesSoftMax < ShardLimits.headBytesHardMax, 'the soft head bound is below the hard one');
assert(ShardLimits.nodeHeadHeapPercent > 0 && ShardLimits.nodeHeadHeapPercent < 100, 'the node\'s heads take part of the heap');
assert(ShardLimits.nodeHeadSoftPercent > 0 && ShardLimits.nodeHeadSoftPercent < 100, 'the node\'s soft head bound is below its hard one');
assert(ShardLimits.flushStepShareMax > 0 && ShardLimits.flushStepShareMax <= 1, 'flush steps take a share in (0, 1] of the main thread');
assert(ShardLimits.flushPauseMsMax >= 1, 'flushPauseMsMax >= 1');
assert(ShardLimits.flushIdleWorkMsMax >= 0 && ShardLimits.flushIdleWorkMsMax < ShardLimits.flushPauseMsMax, 'an idle turn is shorter than a pause');
// A page stops after the value that crossed snapshotPageBytesMax: it holds at most that plus one key and one value, plus framing.
assert(
  ShardLimits.snapshotPageBytesMax + ShardDbLimits.keyBytesMax + ShardDbLimits.valueBytesMax + 64 * 1024 <= TransportLimits.frameBytesMax,
  'a snapshot page fits one peer frame',
);
assert(ShardLimits.snapshotPageEntriesMax >= 1 && ShardLimits.snapshotSessionsMax >= 1, 'snapshot streams make progress');
assert(ShardLimits.refusalsPerResultMax >= StoreLimits.refusalsReportedMax, 'a result can list what a store reports');

/** ShardServiceLimits bound the node's cluster-wide shard calls (src/shard-service.ts). */
export const ShardServiceLimits = {
  /** flushDeadlineMs bounds one node's flush of every replica it hosts. */
  flushDeadlineMs: 120_000,
  /** statsDeadlineMs bounds one node's stats answer. */
  statsDeadlineMs: 5_000,
  /** statsReportsMax bounds the replica reports one node may send (its hosted groups). */
  statsReportsMax: DriverLimits.groupsMax,
} as const;
assert(ShardServiceLimits.flushDeadlineMs <= TransportLimits.callDeadlineMsMax, 'a flush call deadline is allowed');
assert(ShardServiceLimits.statsDeadlineMs <= TransportLimits.callDeadlineMsMax, 'a stats call deadline is allowed');

/**
 * LogStoreLimits bound the logs store of one shard replica
 * (src/storage/logs/log-store.ts): its head accounting, one shard-local
 * query, the label reads, and one retention pass.
 */
export const LogStoreLimits = {
  /**
   * blockRowsMax bounds the rows of one log block: a flush cuts a bucket's
   * time-sorted rows into consecutive blocks of at most this many, so a
   * time range or a limit-N query in one direction reads only the blocks at
   * its end (the read settles rows no unread block can precede). 65,536 (the
   * span blocks' cut) gave one block per shard at 1 M lines, each read whole
   * by every query.
   */
  blockRowsMax: 16_384,
  /** headRowOverheadBytes is the accounted memory of one head row beyond its strings and ids (object, array slot, bigints). */
  headRowOverheadBytes: 256,
  /** headAttributeOverheadBytes is the accounted memory of one attribute beyond its key and value strings. */
  headAttributeOverheadBytes: 64,
  /** queryRowsMax bounds the `limit` of one queryLogs call (Loki's default max_entries_limit_per_query is 5000). */
  queryRowsMax: 5000,
  /** selectRowsMax bounds the `limit` of one selectLogs call (the LogQL engine's shard-local reads; a metric query reads every entry of its range up to this). */
  selectRowsMax: 200_000,
  /** queryBatchRowsMax bounds the rows of one batch queryLogs yields. */
  queryBatchRowsMax: 256,
  /** labelResultsMax bounds the names, values or series one label read returns; past it the read is ERR_LIMIT_EXCEEDED. */
  labelResultsMax: 10_000,
  /** labelKeyStringBytesMax bounds a label name or value inside a label key (UTF-8 bytes); a longer one is cut there and kept whole in the key's value. */
  labelKeyStringBytesMax: 512,
  /** expireBucketsMax bounds the (tenant, bucket) pairs one retention pass deletes; the rest go at the next pass. */
  expireBucketsMax: 4096,
  /** scanPageEntries is the page size of the store's LevelDB scans. */
  scanPageEntries: 256,
  /**
   * hintTermsPerPieceMax bounds the dictionary terms whose postings a line
   * hint's piece (a part of a literal that may sit inside a longer token)
   * unions to name a block's candidate rows (log-hint-rows.ts
   * hintCandidates); a piece held by more terms (a digit, a common
   * syllable) names no rows and requires nothing.
   */
  hintTermsPerPieceMax: 64,
  /**
   * hintAdjacentTermsMax bounds the terms on either side of an adjacent
   * pair (log-hint-rows.ts: `status=5` needs a term holding "status" right
   * before a term starting with "5") whose positions a block's candidate
   * rows are checked against; past it the pair requires nothing.
   */
  hintAdjacentTermsMax: 1024,
} as const;
assert(LogStoreLimits.hintTermsPerPieceMax >= 1 && LogStoreLimits.hintAdjacentTermsMax >= 1, 'hint term bounds >= 1');
assert(LogStoreLimits.headRowOverheadBytes >= 64, 'a head row costs at least its object');
assert(LogStoreLimits.headAttributeOverheadBytes >= 16, 'an attribute costs at least its object');
assert(LogStoreLimits.queryRowsMax >= 1, 'queryRowsMax >= 1');
assert(LogStoreLimits.selectRowsMax >= LogStoreLimits.queryRowsMax, 'a select reads at least what a query may');
assert(LogStoreLimits.queryBatchRowsMax >= 1, 'queryBatchRowsMax >= 1');
assert(LogStoreLimits.queryBatchRowsMax <= LogStoreLimits.queryRowsMax, 'a batch is at most one query');
assert(LogStoreLimits.labelResultsMax >= 1, 'labelResultsMax >= 1');
assert(LogStoreLimits.labelKeyStringBytesMax >= 16, 'a label key holds a short name and value');
// A label key is a tenant, a bucket, two cut strings (escaped: at most twice as long) and a block id.
assert(256 + 4 * LogStoreLimits.labelKeyStringBytesMax + 32 <= ShardDbLimits.keyBytesMax, 'a label key fits keyBytesMax');
assert(LogStoreLimits.expireBucketsMax >= 1, 'expireBucketsMax >= 1');
assert(LogStoreLimits.scanPageEntries >= 1 && LogStoreLimits.scanPageEntries <= ShardDbLimits.scanPageEntriesMax, 'scan pages within ShardDb pages');
assert(LogStoreLimits.blockRowsMax <= LogBlockLimits.rowsPerBlockMax, 'a log store block fits a log block');

/**
 * TraceStoreLimits bound the traces store of one shard replica
 * (src/storage/traces/trace-store.ts): what one read returns and holds, and
 * the constants of the head's memory estimate.
 */
export const TraceStoreLimits = {
  /** spansPerTraceMax bounds the spans one traceById returns; past it the answer is truncated and says so. */
  spansPerTraceMax: 100_000,
  /** traceBlocksMax bounds the blocks (trace-id index entries) one traceById reads; past it the answer is truncated. */
  traceBlocksMax: 4096,
  /** searchBatchRowsMax bounds the spans of one batch searchSpans yields. */
  searchBatchRowsMax: 1024,
  /**
   * searchSliceMs bounds the main-thread time a search runs over its blocks
   * between two event-loop turns: past it, the next block waits one turn
   * (setImmediate), so lookups, Raft heartbeats and I/O interleave with a long
   * search whose reads hit the block cache (they never leave the microtask
   * queue otherwise: a full scan held a node 0.2-1.2 s at a time, bench/README
   * "query-traces", s20).
   */
  searchSliceMs: 5,
  /** searchLimitMax bounds the `limit` of one searchSpans. */
  searchLimitMax: 1_000_000,
  /** flushProbesInflightMax bounds the trace-id index scans a flush runs at once (distinct-trace count, shadow markers). */
  flushProbesInflightMax: 32,
  /**
   * flushScanIndexPerTraceMax: a flush reads the tenant's whole trace-id index range (one ordered scan)
   * instead of seeking once per trace while the tenant's stored traces are at most this many per trace of
   * the flush. A seek costs ~60-85 us of a node's time, a scanned entry ~1-2 us (bench/trace-store.ts).
   */
  flushScanIndexPerTraceMax: 16,
  /**
   * summarySpansKept is how many first spans (by start) a block's trace
   * summary keeps (trace-summaries.ts): a search whose `spss` is at most this
   * (Tempo's default is 3) lists them without reading the trace's pages.
   */
  summarySpansKept: 3,
  /**
   * pageFilterFalsePositiveTarget is the target of a page's bloom filter of
   * skipped-key terms (page-filters.ts): the share of pages lacking a value
   * that an attribute search still reads in a block the block-level
   * skipped-terms bloom let through (coarse, to keep the index small).
   */
  pageFilterFalsePositiveTarget: 0.25,
  /**
   * pageTermsFalsePositiveTarget is the target of a page's filter in page
   * filters of version 2 (page-filters.ts), which replace the block-level
   * skipped-terms bloom: it takes that filter's bits (10%: 4.8 bits a term)
   * besides the 25% (2.9 bits) of version 1, about 7.7 bits a term in all.
   */
  pageTermsFalsePositiveTarget: 0.025,
  /**
   * blockTermsFalsePositiveTarget is the target of the block-level filter in
   * page filters of version 3 (page-filters.ts), asked before the pages': the
   * share of blocks lacking a value whose pages are asked at all. With
   * version 2's 2.5% a page alone, a block of P pages lacking the value was
   * opened with probability 1 - 0.975^P (43% for 22 pages; the 2M bench
   * opened 187 of 433 blocks); version 3 splits about the same bits a term as version 1 did:
   * 10% (4.8 bits) for the block, 25% for its pages
   * (pageTermsV3FalsePositiveTarget, 2.9 bits).
   */
  blockTermsFalsePositiveTarget: 0.1,
  /** pageTermsV3FalsePositiveTarget is the target of a page's filter in page filters of version 3, asked only for a block whose block-level filter says "maybe". */
  pageTermsV3FalsePositiveTarget: 0.25,
  /**
   * blockTermsTightFalsePositiveTarget and pageTermsTightFalsePositiveTarget
   * are the targets a version-3 block's filters get instead of the two above
   * when the extra bytes fit tightFiltersDataShareMax (page-filters.ts
   * chooseFilterTargets): a block with few skipped-key terms for its bytes (a
   * customer id a trace: ~214 terms in a 4,700-span block) then lets 1% of
   * the searches for a value it lacks ask its pages instead of 10%, and a page
   * lacking the value is read 1% of the time instead of 25%.
   */
  blockTermsTightFalsePositiveTarget: 0.01,
  pageTermsTightFalsePositiveTarget: 0.01,
  /**
   * tightFiltersDataShareMax bounds what the tight targets may add to a
   * block's page filters value, as a share of the block's data bytes (head
   * and pages): 0.1%, so the index/data ratio moves by at most 0.1 points. A
   * block with a skipped term a span (realisticSpans: two, ~15,500 terms
   * a block) does not fit it and keeps 10% / 25%.
   */
  tightFiltersDataShareMax: 0.001,
  /**
   * prefetchBlocksMax bounds the blocks whose page filters a search on an
   * attribute or span match fetches in one getMany (prefetch-kv.ts): one
   * LevelDB call for up to this many blocks instead of one each; a search
   * that stops at its limit has read at most this many it did not use.
   */
  prefetchBlocksMax: 32,
  /**
   * flushFillShareDivisor: a flush keeps in the node's block cache at most
   * the cache's bytesMax / flushFillShareDivisor of the block heads and page
   * filters it wrote (flush-cache-fill.ts), so one large flush cannot evict
   * what the searches of the last hour hold.
   */
  flushFillShareDivisor: 8,
  /** pageFilterTermsMax bounds the distinct skipped-key terms one page's filter holds; past it the page has no filter (a search reads it). */
  pageFilterTermsMax: 65_536,
  /**
   * blockMetasMax bounds the block metas one store keeps decoded in memory
   * (block-meta-table.ts: every block of every tenant, ~300 bytes each, so at
   * most ~2.5 MB a replica); a store with more blocks reads its metas from
   * LevelDB per search, as before the table.
   */
  blockMetasMax: 8192,
  /** searchBucketBlocksMax bounds the block metas searchSpanRefs holds at once (one bucket's, sorted newest first; a bucket with more is read in groups of this many). */
  searchBucketBlocksMax: 1024,
  /** shadowBlocksMax bounds the newer blocks whose span ids one searchSpans keeps to drop stale versions (dropped and re-read past it). */
  shadowBlocksMax: 64,
  /** headSpanBytesBase is estimateSpanBytes' fixed bytes per decoded span (the row object, its ids and times); flushes cut blocks by that estimate. */
  headSpanBytesBase: 448,
  /** headBytesPerChar is the head estimate's bytes per UTF-16 code unit of a span's own strings. */
  headBytesPerChar: 2,
  /** headBytesPerItem is the head estimate's bytes per attribute, event and link of a span (resource and scope objects are shared, not counted). */
  headBytesPerItem: 96,
  /**
   * headTraceBytes is the accounted memory of one trace in a compact span head
   * (span-head.ts): its map entry and its 16-char key string.
   */
  headTraceBytes: 96,
  /**
   * headEntryBytes is the accounted memory of one entry in a compact span head
   * beyond its copied bytes (which sit in shared slabs): five array slots, some
   * of them heap numbers.
   */
  headEntryBytes: 64,
  /** headInitialTraces and headInitialSpans are the first column capacities of a span head (they double when full). */
  headInitialTraces: 16,
  headInitialSpans: 64,
  /** headSlabBytesMin and headSlabBytesMax bound the slabs a span head copies span bytes into (doubling from min to max; a larger entry gets a slab of its own size). */
  headSlabBytesMin: 64 * 1024,
  headSlabBytesMax: 1024 * 1024,
  /** headTableSlotsMin is the first size of a span head's (trace, span id) hash table: a power of two, at least twice headInitialSpans. */
  headTableSlotsMin: 128,
} as const;

/**
 * BlockCacheLimits bound the node-wide cache of opened span blocks and their
 * decoded indexes (storage/traces/block-cache.ts), shared by every traces
 * store of the node. Accounted bytes are the LevelDB bytes the entry was
 * opened from times TraceStore's overhead factor (block-cache.ts users).
 */
export const BlockCacheLimits = {
  /** bytesMaxDefault is the cache's bound on a node: small against a shard's 256 MiB head bound, large enough for the blocks of a working hour. */
  bytesMaxDefault: 64 * 1024 * 1024,
  /** bytesMax bounds any cache's bytesMax (tests and benches choose smaller or zero). */
  bytesMax: 1024 * 1024 * 1024,
  /** entryShareDivisor: an entry over bytesMax / entryShareDivisor is not kept (one huge block must not evict everything). */
  entryShareDivisor: 8,
  /** entryOverheadBytes is added to every entry's accounted bytes (its key, map slot and decoded objects). */
  entryOverheadBytes: 1024,
} as const;
assert(BlockCacheLimits.bytesMaxDefault <= BlockCacheLimits.bytesMax, 'block cache bytesMaxDefault <= bytesMax');
assert(BlockCacheLimits.entryShareDivisor >= 1, 'block cache entryShareDivisor >= 1');
assert(BlockCacheLimits.bytesMaxDefault / BlockCacheLimits.entryShareDivisor >= StorageLimits.entryBytesMax, 'the default cache keeps a block value as large as an entry');
assert(TraceStoreLimits.spansPerTraceMax >= 1, 'spansPerTraceMax >= 1');
assert(TraceStoreLimits.traceBlocksMax >= 1, 'traceBlocksMax >= 1');
assert(TraceStoreLimits.searchBatchRowsMax >= 1, 'searchBatchRowsMax >= 1');
assert(TraceStoreLimits.searchSliceMs > 0 && TraceStoreLimits.searchSliceMs < 50, 'a search slice is a few ms of the thread');
assert(TraceStoreLimits.searchLimitMax >= TraceStoreLimits.searchBatchRowsMax, 'searchLimitMax >= searchBatchRowsMax');
assert(TraceStoreLimits.shadowBlocksMax >= 1, 'shadowBlocksMax >= 1');
assert(TraceStoreLimits.blockTermsTightFalsePositiveTarget > 0, 'blockTermsTightFalsePositiveTarget > 0');
assert(TraceStoreLimits.blockTermsTightFalsePositiveTarget < TraceStoreLimits.blockTermsFalsePositiveTarget, 'the tight block target is below the loose one');
assert(TraceStoreLimits.pageTermsTightFalsePositiveTarget > 0, 'pageTermsTightFalsePositiveTarget > 0');
assert(TraceStoreLimits.pageTermsTightFalsePositiveTarget < TraceStoreLimits.pageTermsV3FalsePositiveTarget, 'the tight page target is below the loose one');
assert(TraceStoreLimits.tightFiltersDataShareMax >= 0 && TraceStoreLimits.tightFiltersDataShareMax < 0.1, 'tightFiltersDataShareMax in [0, 0.1): within the 10% index bound');
assert(TraceStoreLimits.searchBucketBlocksMax >= 2, 'searchBucketBlocksMax >= 2: a group orders blocks');
assert(TraceStoreLimits.flushProbesInflightMax >= 1, 'flushProbesInflightMax >= 1');
assert(TraceStoreLimits.flushScanIndexPerTraceMax >= 0, 'flushScanIndexPerTraceMax >= 0');
assert(TraceStoreLimits.headSpanBytesBase >= 64, 'a span costs at least its ids and times');
assert(TraceStoreLimits.headInitialTraces >= 1 && TraceStoreLimits.headInitialSpans >= 1, 'a span head starts with room');
assert(TraceStoreLimits.headSlabBytesMin >= 1024 && TraceStoreLimits.headSlabBytesMin <= TraceStoreLimits.headSlabBytesMax, 'span head slabs grow from min to max');
assert((TraceStoreLimits.headTableSlotsMin & (TraceStoreLimits.headTableSlotsMin - 1)) === 0, 'headTableSlotsMin is a power of two');
assert(TraceStoreLimits.headTableSlotsMin >= 2 * TraceStoreLimits.headInitialSpans, 'the span table starts at most half full');
assert(StoreLimits.blockRowsMax <= SpanBlockLimits.rowsMax, 'a trace store block fits a span block');
// A format-3 block keys its pages by a u16 page number (trace-keys.ts pageKey).
assert(Math.ceil(StoreLimits.blockRowsMax / SpanPageLimits.pageRowsDefault) <= 0xffff, 'the pages of a store block fit a u16');

/** TraceqlLimits bound one TraceQL query (src/query/traceql): its text, its shape and the trace it runs over. */
export const TraceqlLimits = {
  /** queryBytesMax bounds the UTF-8 length of one query text; a longer query is refused before it is lexed. */
  queryBytesMax: 16 * 1024,
  /** nestingDepthMax bounds the parser's recursion: nested parentheses, braces and `!` prefixes together. */
  nestingDepthMax: 64,
  /** astHeightMax bounds the height of the parsed tree (long operator chains included), so evaluation and printing recurse a bounded depth. */
  astHeightMax: 512,
  /** regexBytesMax bounds the UTF-8 length of one regular expression of `=~` or `!~`. */
  regexBytesMax: 1024,
  /** selectFieldsMax bounds the fields of one `select(...)`. */
  selectFieldsMax: 64,
  /** traceSpansMax bounds the spans of the one trace the evaluator runs over; a larger trace is refused, never scanned. */
  traceSpansMax: 100_000,
} as const;

assert(TraceqlLimits.nestingDepthMax >= 1, 'traceql nestingDepthMax >= 1');
// Every nesting level is also a level of the tree, so the height bound must admit the deepest nesting.
assert(TraceqlLimits.astHeightMax >= 2 * TraceqlLimits.nestingDepthMax, 'traceql astHeightMax >= 2 * nestingDepthMax');
assert(TraceqlLimits.regexBytesMax < TraceqlLimits.queryBytesMax, 'traceql regexBytesMax < queryBytesMax');
assert(TraceqlLimits.selectFieldsMax >= 1, 'traceql selectFieldsMax >= 1');
assert(TraceqlLimits.traceSpansMax >= 1, 'traceql traceSpansMax >= 1');
// The evaluator must accept every trace a traceById answer can hold.
assert(TraceqlLimits.traceSpansMax >= TraceStoreLimits.spansPerTraceMax, 'traceql traceSpansMax >= spansPerTraceMax');


/** MetricStoreLimits bound the metrics store of one shard replica (src/storage/metrics/metric-store.ts). */
export const MetricStoreLimits = {
  /** bucketMs is the time bucket of chunks, records, exemplars and rollups (retention deletes whole buckets): 2 hours. */
  bucketMs: 2 * 3_600_000,
  /** seriesMax bounds the series of one shard replica, counted over every series ever created (never lowered by a flush or retention). */
  seriesMax: MetricHeadLimits.seriesMax,
  /** chunkBlockSeries is the id page of one chunk block (chunk-block.ts): the series whose float samples of one bucket one flush writes as one value, sharing timestamp columns. */
  chunkBlockSeries: 128,
  /** chunkBlockBytesTarget cuts a page's chunk block into parts (chunk-block.ts) past about this many encoded bytes. */
  chunkBlockBytesTarget: 1024 * 1024,
  /** selectSeriesPerBatchMax bounds the series of one batch a read yields (and the series whose data a read holds at once). */
  selectSeriesPerBatchMax: 512,
  /**
   * selectBucketsPerBatchMax bounds the time buckets (with data) one read
   * batch covers: 24 hours and a 5-minute lookback of 2-hour buckets at any
   * alignment (14), so a day's query reads each series in one slice instead
   * of two copied together (query/metrics-shard-read.ts concatSlices).
   */
  selectBucketsPerBatchMax: 14,
  /** readColumnSamplesMin is the least capacity of a pooled read column (column-pool.ts): 8 KiB. */
  readColumnSamplesMin: 1024,
  /**
   * readColumnPoolBytesMax bounds the free columns a node's metrics read
   * service keeps for the next reads (column-pool.ts): about 1,400 series
   * × a day at 15 s of values; past it released columns go to the collector.
   */
  readColumnPoolBytesMax: 64 * 1024 * 1024,
  /**
   * leaseScratchBytesMax bounds the scratch columns one lease lends a shard
   * part's evaluation (column-pool.ts takeScratch: an aggregation's group
   * rows, 12 to 28 bytes a group a step, rounded up to a capacity class):
   * about 1,500 groups × 1,441 steps of a sum. Past it the evaluation
   * allocates its own rows, so the pool never circulates more than this a
   * part for them.
   */
  leaseScratchBytesMax: 32 * 1024 * 1024,
  /** expireKeysPerPassMax bounds the deletions one retention pass puts in a batch; the buckets left over go at the next pass (a bucket is never split). */
  expireKeysPerPassMax: 1_000_000,
  /** identityMemoEntriesMax bounds the memo of point identities to series ids (cleared when full; it only saves work). */
  identityMemoEntriesMax: 262_144,
  /** rawIdentityMemoKeyBytesMax bounds the key bytes of each table of the raw identity memo (raw-identity-memo.ts). */
  rawIdentityMemoKeyBytesMax: 32 * 1024 * 1024,
  /** headSampleBytes is the accounted memory of one float sample in a head (two float64 columns). */
  headSampleBytes: 16,
  /** headRecordBytes is the accounted memory of one histogram or summary point, plus 8 bytes per bucket or quantile. */
  headRecordBytes: 128,
  /** headExemplarBytes is the accounted memory of one exemplar, plus its attributes' rendered length. */
  headExemplarBytes: 160,
  /** descriptionCharsMax cuts a metric's description (UTF-16 units, never inside a surrogate pair) before the store keeps it per series. */
  descriptionCharsMax: 1024,
  /** descriptionInternMax bounds the table that shares one string among the series of one description (cleared when full; it only saves memory). */
  descriptionInternMax: 4096,
} as const;
assert(MetricStoreLimits.descriptionCharsMax >= 1 && MetricStoreLimits.descriptionInternMax >= 1, 'descriptions are kept');
assert(MetricStoreLimits.bucketMs % 3_600_000 === 0, 'a bucket holds whole 1h rollup windows');
assert(MetricStoreLimits.seriesMax <= MetricHeadLimits.seriesMax, 'seriesMax within the registry bound');
assert(MetricStoreLimits.seriesMax <= 0xffff_ffff, 'series ids are u32');
assert(MetricStoreLimits.selectSeriesPerBatchMax >= 1, 'a read batch holds a series');
assert(MetricStoreLimits.chunkBlockSeries >= 1 && MetricStoreLimits.chunkBlockSeries <= 0xffff, 'a chunk block holds 1 to 65,535 series (and parts fit a u16)');
assert(MetricStoreLimits.chunkBlockBytesTarget * 4 <= ShardDbLimits.valueBytesMax, 'a chunk block part stays well under one LevelDB value');
assert(MetricStoreLimits.selectBucketsPerBatchMax >= 1, 'a read batch covers a bucket');
assert(MetricStoreLimits.expireKeysPerPassMax >= 1, 'a retention pass deletes something');
assert(MetricStoreLimits.headSampleBytes >= 16, 'a float sample is two float64s');
assert(MetricStoreLimits.identityMemoEntriesMax >= 1, 'the identity memo holds an entry');
assert(MetricStoreLimits.rawIdentityMemoKeyBytesMax >= 1, 'the raw identity memo holds a key');


/** IngestLimits bound the OTLP write path of a node (src/otlp): admission, routing of shard parts to leaders, retries and breakers. */
export const IngestLimits = {
  /** requestBytesMax bounds one request body after decompression (a gzip bomb is cut off here, not inflated further); the default of IngestSettings. */
  requestBytesMax: 16 * 1024 * 1024,
  /** requestBytesCeiling is the largest requestBytesMax a node may set. */
  requestBytesCeiling: 64 * 1024 * 1024,
  /** requestDeadlineMsDefault bounds a request whose client sent no deadline (the OpenTelemetry SDK exporters give up after 10 s). */
  requestDeadlineMsDefault: 8_000,
  /** requestDeadlineMsMax caps a client's own deadline. */
  requestDeadlineMsMax: 60_000,
  /** nodeInflightBytesMax bounds the request bytes a node holds (decoding, encoding, waiting for commits) at once; the default of IngestSettings. */
  nodeInflightBytesMax: 256 * 1024 * 1024,
  /** nodeInflightBytesCeiling is the largest nodeInflightBytesMax a node may set. */
  nodeInflightBytesCeiling: 4 * 1024 * 1024 * 1024,
  /** shardInflightBytesMax bounds the entry bytes a shard leader has proposed and not yet applied. */
  shardInflightBytesMax: 64 * 1024 * 1024,
  /** partsPerRequestMax bounds the shard parts of one request (a shard's rows cut into at most a few entries each). */
  partsPerRequestMax: 4_096,
  /** partAttemptsMax bounds the tries of one part (hops to hinted leaders included). */
  partAttemptsMax: 32,
  /** leaderHopsMax bounds consecutive moves to hinted leaders before a part backs off. */
  leaderHopsMax: 3,
  /** partCallMsMax bounds one proposal call (local or forwarded); the request's deadline may cut it shorter. */
  partCallMsMax: 5_000,
  /** callMsMin: with less time left than this a part does not start another call. */
  callMsMin: 50,
  /** retryBaseMs, retryMaxMs and retryJitterPercent shape the backoff between tries of a part. */
  retryBaseMs: 25,
  retryMaxMs: 1_000,
  retryJitterPercent: 50,
  /** breakerFailuresToOpen consecutive unanswered calls open a peer's circuit breaker. */
  breakerFailuresToOpen: 5,
  /** breakerOpenMs is how long an open breaker refuses before a probe. */
  breakerOpenMs: 2_000,
  /** breakersMax bounds the per-peer breakers (one per node id ever called). */
  breakersMax: 1_024,
  /** tenantBucketsMax bounds the per-tenant token buckets a node keeps (the least recently used is dropped past it). */
  tenantBucketsMax: 10_000,
  /** retryAfterSecondsDefault is the Retry-After given when no better estimate exists. */
  retryAfterSecondsDefault: 1,
  /** grpcConcurrentStreamsMax bounds the concurrent calls of one gRPC connection. */
  grpcConcurrentStreamsMax: 256,
  /**
   * grpcStreamWindowBytes is the HTTP/2 receive window the gRPC receiver
   * grants each call (SETTINGS_INITIAL_WINDOW_SIZE), and
   * grpcConnectionWindowBytes the window of a whole connection. HTTP/2's
   * default of 65,535 bytes for both lets a client send at most 64 KiB per
   * turn of the node's event loop over all its calls together (the window is
   * only re-opened when the loop reads the socket), so 16 calls of 141 KB
   * stalled past their deadline when apply and flush made the turns long
   * (grpc-receiver.ts). Memory is not bounded by these windows but by
   * grpcConcurrentStreamsMax × requestBytesMax per connection and by the
   * node's in-flight admission.
   */
  grpcStreamWindowBytes: 1024 * 1024,
  grpcConnectionWindowBytes: 8 * 1024 * 1024,
  /** reasonsShownMax bounds the refusal reasons named in one partial_success message. */
  reasonsShownMax: 8,
  /** messageCharsMax bounds a partial_success message. */
  messageCharsMax: 2_048,
  /** shedLevelsPercent are the node in-flight levels (percent of nodeInflightBytesMax) above which the signals of priority rank 0, 1 and 2 are refused. */
  shedLevelsPercent: [100, 80, 60],
  /**
   * replyMarginPercent of a gRPC client's remaining deadline (at most
   * replyMarginMsMax) is kept back from the write path, so that a request
   * that cannot commit is answered UNAVAILABLE with RetryInfo while the
   * client still listens, rather than ending in its DEADLINE_EXCEEDED.
   */
  replyMarginPercent: 20,
  replyMarginMsMax: 1_000,
  /**
   * seriesShardMemoEntriesMax bounds the series a receive thread remembers
   * the shard of (src/otlp/series-shard-memo.ts), and
   * seriesShardMemoKeyBytesMax the raw attribute bytes of their keys; the
   * memo is cleared when a request could overflow either. 65,536 series of
   * ~64 key bytes and ~40 bytes of columns each is ~7 MB per thread.
   */
  seriesShardMemoEntriesMax: 65_536,
  seriesShardMemoKeyBytesMax: 8 * 1024 * 1024,
  /** seriesShardMemoHeadsMax bounds the metric heads (tenant, name, labels besides the point attributes) the memo numbers. */
  seriesShardMemoHeadsMax: 16_384,
} as const;
assert(IngestLimits.requestDeadlineMsDefault <= IngestLimits.requestDeadlineMsMax, 'default deadline within the max');
assert(IngestLimits.callMsMin < IngestLimits.partCallMsMax, 'a call may last longer than the minimum');
assert(IngestLimits.retryBaseMs <= IngestLimits.retryMaxMs, 'retry base within max');
assert(IngestLimits.partsPerRequestMax <= DriverLimits.proposalBatchEntriesMax, 'a request\'s parts fit in one proposal batch');
assert(IngestLimits.requestBytesMax <= IngestLimits.nodeInflightBytesMax, 'one request fits the node bound');
assert(IngestLimits.grpcStreamWindowBytes >= 65_535 && IngestLimits.grpcStreamWindowBytes <= IngestLimits.grpcConnectionWindowBytes, 'a call\'s window within its connection\'s, and not below HTTP/2\'s default');
assert(IngestLimits.grpcConnectionWindowBytes <= 2 ** 31 - 1, 'an HTTP/2 window fits 31 bits (RFC 9113 §6.9.1)');
assert(IngestLimits.requestBytesMax <= IngestLimits.requestBytesCeiling, 'the default request bound within its ceiling');
assert(IngestLimits.nodeInflightBytesMax <= IngestLimits.nodeInflightBytesCeiling, 'the default in-flight bound within its ceiling');
assert(IngestLimits.leaderHopsMax < IngestLimits.partAttemptsMax, 'hops within attempts');
assert(IngestLimits.shedLevelsPercent.length === 3, 'a shed level per signal rank');
assert(IngestLimits.replyMarginPercent >= 0 && IngestLimits.replyMarginPercent < 50, 'the reply margin leaves the write path most of the deadline');
assert(IngestLimits.replyMarginMsMax < IngestLimits.requestDeadlineMsDefault, 'the reply margin is shorter than the default deadline');
assert(IngestLimits.seriesShardMemoHeadsMax <= IngestLimits.seriesShardMemoEntriesMax, 'no more heads than series in the series shard memo');
assert(IngestLimits.seriesShardMemoKeyBytesMax >= IngestLimits.seriesShardMemoEntriesMax, 'room for a few key bytes per remembered series');


/** TraceLookupLimits bound a trace-by-id lookup across the cluster (src/trace-lookup.ts). */
export const TraceLookupLimits = {
  /** attemptsMax bounds the calls of one lookup (leader hints followed included); between failures the lookup backs off (retryBackoffBaseMs doubling to retryBackoffMaxMs, with jitter) within lookupMsMax, so a shard electing a leader is waited for. */
  attemptsMax: 64,
  /** lookupMsMax bounds a whole lookup, its retries included. */
  lookupMsMax: 15_000,
  /** retryBackoffBaseMs is the first pause after a failed call. */
  retryBackoffBaseMs: 20,
  /** retryBackoffMaxMs caps the pause between calls. */
  retryBackoffMaxMs: 1_000,
  /** callMs bounds one call to a shard leader (its ReadIndex barrier and the read), so a stalled replica leaves time to ask another within lookupMsMax. */
  callMs: 5_000,
  /** answerBytesMax bounds one answer's encoded spans; past it the answer says `truncated`. */
  answerBytesMax: 12 * 1024 * 1024,
  /** replicaReadMs bounds a follower's read of its own replica (the leader's ReadIndex, then applying up to it); past it the lookup asks the leader. */
  replicaReadMs: 1_000,
} as const;
assert(TraceLookupLimits.replicaReadMs < TraceLookupLimits.lookupMsMax, 'a replica read leaves time to ask the leader');
assert(TraceLookupLimits.answerBytesMax + 64 * 1024 <= TransportLimits.frameBytesMax, 'an answer fits one frame');
assert(TraceLookupLimits.callMs <= TransportLimits.callDeadlineMsMax, 'a lookup call deadline is allowed');
assert(TraceLookupLimits.callMs <= TraceLookupLimits.lookupMsMax, 'a call fits in a lookup');
assert(TraceLookupLimits.retryBackoffBaseMs >= 1 && TraceLookupLimits.retryBackoffBaseMs <= TraceLookupLimits.retryBackoffMaxMs, '1 <= retryBackoffBaseMs <= retryBackoffMaxMs');

/** TraceCliLimits bound `otlpdb trace <id>` (cli/commands/trace.ts, cli/render/waterfall.ts). */
export const TraceCliLimits = {
  /** requestMs bounds the whole GET of the trace (a lookup may wait for a shard leader). */
  requestMs: 30_000,
  /** responseBytesMax bounds the answer read: the largest lookup answer, written as OTLP JSON (hex ids and decimal times grow it). */
  responseBytesMax: 8 * TraceLookupLimits.answerBytesMax,
  /** spansRenderedMax bounds the rows of one waterfall; the rest are counted, not drawn (--json prints them all). */
  spansRenderedMax: 2_000,
  /** widthMin and widthMax bound --width (and a terminal's width) in columns. */
  widthMin: 60,
  widthMax: 1_000,
  /** widthPiped is the width when stdout is not a terminal and --width is not given. */
  widthPiped: 120,
  /** depthIndentMax bounds the indentation levels drawn; deeper spans are drawn at this depth, with their depth shown. */
  depthIndentMax: 24,
} as const;
assert(TraceCliLimits.responseBytesMax >= TraceLookupLimits.answerBytesMax, 'the CLI reads any answer a node may send');
assert(TraceCliLimits.widthMin <= TraceCliLimits.widthPiped && TraceCliLimits.widthPiped <= TraceCliLimits.widthMax, 'the piped width is a valid --width');
assert(TraceCliLimits.requestMs >= TraceLookupLimits.callMs, 'the CLI waits at least as long as one shard call');

/** IngestBenchLimits bound `bench/ingest.ts`, the OTLP ingest benchmark: its flags, its payloads, its waits and what it keeps in memory. */
export const IngestBenchLimits = {
  /** durationSecDefault is the load time of one phase (signal × protocol) when --duration is not given. */
  durationSecDefault: 10,
  /** durationSecMax refuses absurd --duration values. */
  durationSecMax: 600,
  /** connectionsDefault is the HTTP connections (and concurrent gRPC calls) of a phase when --connections is not given, split over the nodes. */
  connectionsDefault: 16,
  /** connectionsMax bounds --connections (file descriptors; each slot also gets its own metric series, batchSize of them). */
  connectionsMax: 256,
  /** batchSizes are the items per request --batch accepts (the issue's two batch sizes). */
  batchSizes: [512, 1000],
  /** batchSizeDefault is the items per request when --batch is not given. */
  batchSizeDefault: 512,
  /** spanAttributes is the attributes of every span (the issue's "10 attributes"). */
  spanAttributes: 10,
  /** spansPerTrace is how many consecutive spans of a batch share one trace id. */
  spansPerTrace: 8,
  /** metricNames is how many metrics a metric batch spreads its points over (points per metric = batch / metricNames). */
  metricNames: 8,
  /** warmupSec is the unrecorded load before each phase (JIT, connections, first WAL segment, series creation). */
  warmupSec: 2,
  /** decodeSec is how long the decode ceiling decodes the same bodies, per signal, on this process's one thread. */
  decodeSec: 3,
  /** decodeBodies is how many distinct bodies the decode ceiling cycles through. */
  decodeBodies: 16,
  /** requestTimeoutSec is a request's timeout (autocannon's, and the gRPC deadline); a request past it is an error. */
  requestTimeoutSec: 30,
  /** latenciesMax bounds the latencies one phase records (past it, further latencies are not recorded and the report says so). */
  latenciesMax: 2_000_000,
  /** resendAttemptsMax bounds the tries of one unanswered or refused body after a phase (it is sent again until answered 200). */
  resendAttemptsMax: 10,
  /** resendPauseMs is the pause between two resend tries of one body. */
  resendPauseMs: 1_000,
  /** resendBodiesMax bounds the bodies kept for resending (at most one per connection per failure; past it the phase fails). */
  resendBodiesMax: 100_000,
  /** tenantBytesPerSecond is the ingest rate the bench's tenant is given, so the token bucket never limits a measurement. */
  tenantBytesPerSecond: 1024 * 1024 * 1024,
  /** metricTimeBackMs is how far before the run's start the metric timestamps begin (each request then advances them by 1 ms per slot). */
  metricTimeBackMs: 60_000,
  /** verifyDeadlineMs bounds the flush and stats calls of the verification. */
  verifyDeadlineMs: 180_000,
  /** metricsSampleMs is how often the bench fetches every node's /metrics during a phase (bench/ingest-diag.ts). */
  metricsSampleMs: 2_000,
  /** metricsSampleTimeoutMs bounds one /metrics fetch; a node that does not answer in time is recorded as such. */
  metricsSampleTimeoutMs: 5_000,
  /** metricsSamplesPerPhaseMax bounds the samples of one phase (a 600 s phase at metricsSampleMs, plus the last one). */
  metricsSamplesPerPhaseMax: 400,
  /** windowBench*: bench/ingest-grpc-window.ts's busy time per server loop turn, body (bench/ingest's 512-record log request) and rounds. */
  windowBenchBlockMsDefault: 50,
  windowBenchBlockMsMax: 5_000,
  windowBenchBodyBytesDefault: 141_317,
  windowBenchRoundsDefault: 3,
  windowBenchRoundsMax: 100,
} as const;
assert(IngestBenchLimits.durationSecDefault <= IngestBenchLimits.durationSecMax, 'ingest bench durationSecDefault <= durationSecMax');
assert(IngestBenchLimits.connectionsDefault <= IngestBenchLimits.connectionsMax, 'ingest bench connectionsDefault <= connectionsMax');
assert((IngestBenchLimits.batchSizes as readonly number[]).includes(IngestBenchLimits.batchSizeDefault), 'ingest bench default batch is allowed');
assert(
  IngestBenchLimits.batchSizes.every((b) => b % IngestBenchLimits.metricNames === 0 && b % IngestBenchLimits.spansPerTrace === 0),
  'ingest bench batches split evenly into metrics and traces',
);
assert(IngestBenchLimits.connectionsMax <= IngestLimits.grpcConcurrentStreamsMax, 'ingest bench gRPC calls fit one connection');
assert(IngestBenchLimits.tenantBytesPerSecond <= ControlLimits.tenantIngestBytesPerSecondMax, 'ingest bench tenant rate is allowed');
// Metric timestamps advance 1 ms per request of a slot; at most one request per ms per slot keeps them within
// metricTimeBackMs + duration of the start, far inside the receiver's 10-minute future window.
assert(IngestBenchLimits.metricTimeBackMs < 7 * 24 * 3_600_000, 'ingest bench metric times within the past window');

/** TraceSearchLimits bound Tempo's GET /api/search (src/query/trace-search*.ts): its parameters, each shard's work and the answer. */
export const TraceSearchLimits = {
  /** limitDefault is the traces returned when `limit` is absent (Tempo's default). */
  limitDefault: 20,
  /** limitMax refuses a larger `limit`. */
  limitMax: 1_000,
  /** spssDefault is the spans listed per span set when `spss` is absent (Tempo's default). */
  spssDefault: 3,
  /** spssMax refuses a larger `spss`. */
  spssMax: 1_000,
  /** rangeDefaultMs is the searched window, ending now, when `start` and `end` are absent. */
  rangeDefaultMs: 60 * 60 * 1000,
  /** rangeMsMax refuses a longer [start, end) window (Tempo's max_duration: 168h). */
  rangeMsMax: 168 * 60 * 60 * 1000,
  /** tagsBytesMax refuses a longer `tags` parameter. */
  tagsBytesMax: 4_096,
  /** tagsMax refuses more key=value pairs in `tags`. */
  tagsMax: 32,
  /** candidateSpansMax bounds the matching spans one shard reads to find candidate traces; past it the shard's answer is partial. */
  candidateSpansMax: 200_000,
  /** candidateTracesMax bounds the distinct candidate traces one shard keeps; past it the shard's answer is partial. */
  candidateTracesMax: 20_000,
  /** tracesFetchedMax bounds the whole traces one shard reads to summarise candidates (trace-level filters can reject many); past it the answer is partial. */
  tracesFetchedMax: 2_000,
  /** shardCallMs bounds one shard's part (its ReadIndex barrier, scan and summaries). */
  shardCallMs: 10_000,
  /** wallMsMax bounds a whole search; shards not answered by then are reported as failed. */
  wallMsMax: 15_000,
  /** attemptsPerShardMax bounds the calls for one shard (leader hints followed included); between failures the search backs off (retryBackoffBaseMs doubling to retryBackoffMaxMs, with jitter) within wallMsMax, so a shard electing a leader is waited for. */
  attemptsPerShardMax: 64,
  /** retryBackoffBaseMs is the first pause after a failed shard call. */
  retryBackoffBaseMs: 20,
  /** retryBackoffMaxMs caps the pause between shard calls. */
  retryBackoffMaxMs: 1_000,
  /** answerBytesMax bounds one shard's encoded answer. */
  answerBytesMax: 8 * 1024 * 1024,
} as const;
assert(TraceSearchLimits.limitDefault >= 1 && TraceSearchLimits.limitDefault <= TraceSearchLimits.limitMax, '1 <= limitDefault <= limitMax');
assert(TraceSearchLimits.spssDefault >= 1 && TraceSearchLimits.spssDefault <= TraceSearchLimits.spssMax, '1 <= spssDefault <= spssMax');
assert(TraceStoreLimits.summarySpansKept >= TraceSearchLimits.spssDefault, 'a block trace summary keeps the spans a default search lists');
assert(TraceStoreLimits.pageFilterFalsePositiveTarget > 0 && TraceStoreLimits.pageFilterFalsePositiveTarget < 1, 'pageFilterFalsePositiveTarget in (0, 1)');
assert(TraceStoreLimits.pageTermsFalsePositiveTarget > 0 && TraceStoreLimits.pageTermsFalsePositiveTarget < TraceStoreLimits.pageFilterFalsePositiveTarget, 'pageTermsFalsePositiveTarget in (0, pageFilterFalsePositiveTarget)');
assert(TraceStoreLimits.flushFillShareDivisor >= 2, 'flushFillShareDivisor >= 2: a flush fills at most half the cache');
assert(TraceStoreLimits.prefetchBlocksMax >= 2 && TraceStoreLimits.prefetchBlocksMax <= TraceStoreLimits.searchBucketBlocksMax, 'prefetchBlocksMax in [2, searchBucketBlocksMax]');
assert(TraceStoreLimits.blockTermsFalsePositiveTarget > 0 && TraceStoreLimits.blockTermsFalsePositiveTarget < 1, 'blockTermsFalsePositiveTarget in (0, 1)');
assert(TraceStoreLimits.pageTermsV3FalsePositiveTarget > 0 && TraceStoreLimits.pageTermsV3FalsePositiveTarget < 1, 'pageTermsV3FalsePositiveTarget in (0, 1)');
assert(TraceStoreLimits.pageFilterTermsMax <= StorageLimits.bloomItemsMax, 'a page filter fits one bloom filter');
assert(TraceSearchLimits.rangeDefaultMs <= TraceSearchLimits.rangeMsMax, 'rangeDefaultMs <= rangeMsMax');
assert(TraceSearchLimits.candidateTracesMax >= TraceSearchLimits.limitMax, 'a shard can hold candidates for a full answer');
assert(TraceSearchLimits.candidateSpansMax <= TraceStoreLimits.searchLimitMax, 'candidate spans within searchSpans limit');
assert(TraceSearchLimits.shardCallMs <= TraceSearchLimits.wallMsMax, 'a shard call fits in a search');
assert(TraceSearchLimits.retryBackoffBaseMs >= 1 && TraceSearchLimits.retryBackoffBaseMs <= TraceSearchLimits.retryBackoffMaxMs, '1 <= retryBackoffBaseMs <= retryBackoffMaxMs');
assert(TraceSearchLimits.wallMsMax <= TransportLimits.callDeadlineMsMax, 'a search call deadline is allowed');
assert(TraceSearchLimits.answerBytesMax + 64 * 1024 <= TransportLimits.frameBytesMax, 'a shard answer fits one frame');

/** TraceTagLimits bound Tempo's tag routes (/api/search/tags, /api/search/tag/{tag}/values and their v2 forms; src/query/trace-tags*.ts, storage/traces/tag-read.ts). Routing, backoff and deadlines are TraceSearchLimits'. */
export const TraceTagLimits = {
  /** valuesMax bounds the distinct tag names (or values) of one answer, per shard and merged; it is also the largest and the default `limit`. Past it the answer is partial. */
  valuesMax: 10_000,
  /** valueBytesMax bounds the UTF-8 bytes of the distinct names (or values) of one answer, per shard and merged; past it the answer is partial. */
  valueBytesMax: 1024 * 1024,
  /** blocksMax bounds the block indexes one shard reads for one tag read; past it the answer is partial. */
  blocksMax: 4_096,
  /** rowsScannedMax bounds the spans one shard decodes for one tag read: head spans, and block rows read for a key the block does not index; past it the answer is partial. */
  rowsScannedMax: 200_000,
  /** staleValuesMax bounds `maxStaleValues` (a read stops, partial, after that many already known names or values); absent, no such stop. */
  staleValuesMax: 1_000_000,
  /** tagBytesMax refuses a longer tag name in a values route's path. */
  tagBytesMax: 1_024,
  /** answerBytesMax bounds one shard's encoded answer (the values' bytes plus msgpack framing and stats). */
  answerBytesMax: 4 * 1024 * 1024,
} as const;
assert(TraceTagLimits.valuesMax >= 1 && TraceTagLimits.blocksMax >= 1 && TraceTagLimits.rowsScannedMax >= 1, 'tag limits >= 1');
assert(TraceTagLimits.tagBytesMax <= TraceTagLimits.valueBytesMax, 'a tag name fits an answer');
// Each value costs its bytes plus at most 8 bytes of framing (a 2-tuple of a type byte and a string header).
assert(TraceTagLimits.valueBytesMax + 8 * TraceTagLimits.valuesMax + 4096 <= TraceTagLimits.answerBytesMax, 'a full shard answer fits answerBytesMax');
assert(TraceTagLimits.answerBytesMax + 64 * 1024 <= TransportLimits.frameBytesMax, 'a tag answer fits one frame');
/** QueryLimits bound every query's IR (src/query/ir.ts validateIr) and its shard parts (src/query/planner.ts), whatever its language. */
export const QueryLimits = {
  /** rangeMsMax refuses a longer [start, end) window (Tempo's max_duration: 168h). */
  rangeMsMax: 168 * 60 * 60 * 1000,
  /** resultsMax bounds the rows or groups of an answer for the projections without their own bound (samples, log lines, top-k's k). */
  resultsMax: 10_000,
  /** stringBytesMax bounds one field name, value or pattern of a predicate (and the tenant). */
  stringBytesMax: 64 * 1024,
  /** programBytesMax bounds a program predicate's text (TraceQL's own bound). */
  programBytesMax: TraceqlLimits.queryBytesMax,
  /** predicatesMax bounds the predicate nodes of one query (Tempo's tags: at most 32 pairs plus the special keys). */
  predicatesMax: 128,
  /** predicateDepthMax bounds the nesting of and/or/not. */
  predicateDepthMax: 32,
  /** aggregationsMax bounds the aggregations of one query. */
  aggregationsMax: 16,
  /** groupByFieldsMax bounds the grouping fields of one aggregation. */
  groupByFieldsMax: 32,
  /**
   * bytesScannedMaxDefault is the bytes one shard part of a search may read
   * (blocks, indexes, whole traces) before it stops and answers partial.
   */
  bytesScannedMaxDefault: 1024 * 1024 * 1024,
  /** bytesScannedMaxCeiling refuses a larger per-shard budget. */
  bytesScannedMaxCeiling: 16 * 1024 * 1024 * 1024,
  /** wallMsCeiling refuses a longer wall-time budget for a whole query. */
  wallMsCeiling: 60_000,
} as const;
assert(QueryLimits.rangeMsMax >= TraceSearchLimits.rangeMsMax, 'the IR admits every search range');
assert(QueryLimits.predicatesMax >= TraceSearchLimits.tagsMax + 8, 'the IR admits every tag search');
assert(QueryLimits.bytesScannedMaxDefault >= 1 && QueryLimits.bytesScannedMaxDefault <= QueryLimits.bytesScannedMaxCeiling, '1 <= bytes scanned default <= ceiling');
assert(QueryLimits.wallMsCeiling >= TraceSearchLimits.wallMsMax && QueryLimits.wallMsCeiling >= TraceLookupLimits.lookupMsMax, 'the trace reads fit the wall-time ceiling');
assert(QueryLimits.wallMsCeiling <= TransportLimits.callDeadlineMsMax, 'a query wall time is an allowed call deadline');

/** AggregateLimits bound the mergeable partial aggregates of a query (src/query/aggregate-state.ts) and the k-way merges of shard answers (src/query/merge.ts). */
export const AggregateLimits = {
  /** sketchRelativeAccuracy is α of every quantile sketch: a returned quantile is within a factor 1 ± α of the true one (DDSketch's guarantee). */
  sketchRelativeAccuracy: 0.01,
  /** sketchBinsMax bounds the bins of a quantile sketch per sign; past it the lowest-magnitude bins collapse (memory stays bounded; only the smallest quantiles lose accuracy). */
  sketchBinsMax: 2_048,
  /** sketchKeyAbsMax refuses a sketch bin key of larger magnitude from a peer (with α = 1% every finite double maps within ±36,000). */
  sketchKeyAbsMax: 100_000,
  /** mergeBatchRowsMax bounds the rows of one batch a k-way merge yields. */
  mergeBatchRowsMax: 1_024,
  /** mergeRunsMax bounds the sorted runs one k-way merge reads at once (one per shard answer). */
  mergeRunsMax: 4_096,
} as const;
assert(AggregateLimits.sketchRelativeAccuracy > 0 && AggregateLimits.sketchRelativeAccuracy < 1, '0 < sketch alpha < 1');
assert(AggregateLimits.sketchBinsMax >= 16, 'a sketch holds a few bins');
assert(AggregateLimits.sketchKeyAbsMax >= 40_000, 'every finite double maps to an accepted key at alpha 1%');
assert(AggregateLimits.mergeBatchRowsMax >= 1 && AggregateLimits.mergeRunsMax >= 1, 'merges make progress');

/** QueryCliLimits bound `otlpdb query` (cli/commands/query.ts). */
export const QueryCliLimits = {
  /** sinceDefault is the searched window, ending now, when --since is not given. */
  sinceDefault: '1h',
  /** queryBytesMax refuses a longer query before sending it (the node's own bound, TraceqlLimits.queryBytesMax). */
  queryBytesMax: TraceqlLimits.queryBytesMax,
} as const;
/**
 * ReceiveWorkerLimits bound a node's receive workers (src/otlp/ingest-workers.ts):
 * worker threads that decode, split and encode OTLP requests so that the main
 * thread keeps Raft, the WAL and apply.
 */
export const ReceiveWorkerLimits = {
  /** workersDefault is a node's worker count when its options do not say (one: the development machines have 2 cores). */
  workersDefault: 1,
  /** workersMax bounds a node's worker count (0 prepares on the main thread). */
  workersMax: 16,
  /** jobsQueuedMax bounds the requests handed to a node's workers and not yet answered; past it a request is refused, retryable. */
  jobsQueuedMax: 256,
  /** restartsMax bounds the replacements of workers that exited; past it the node prepares on its main thread. */
  restartsMax: 16,
} as const;
assert(ReceiveWorkerLimits.workersDefault >= 0 && ReceiveWorkerLimits.workersDefault <= ReceiveWorkerLimits.workersMax, 'default worker count within [0, workersMax]');
assert(ReceiveWorkerLimits.jobsQueuedMax >= ReceiveWorkerLimits.workersMax, 'every worker may hold a job');
assert(ReceiveWorkerLimits.jobsQueuedMax <= IngestLimits.grpcConcurrentStreamsMax, 'one gRPC connection of concurrent calls fits the queue');


/** JepsenLimits bound `otlpdb jepsen`, the real-cluster fault-injection suite (jepsen-style-tests/harness, nemeses, workloads, report). */
export const JepsenLimits = {
  /** nodesAllowed are the cluster sizes a run may start (a majority survives any one fault of the schedule). */
  nodesAllowed: [3, 5] as readonly number[],
  /** timeMsDefault is how long clients and the nemesis run when --time is not given. */
  timeMsDefault: 60_000,
  /** timeMsMin and timeMsMax bound --time. */
  timeMsMin: 1_000,
  timeMsMax: 3_600_000,
  /** rateDefault is the operations per second of each workload (all its clients together) when --rate is not given. */
  rateDefault: 10,
  /** rateMax bounds --rate. */
  rateMax: 1_000,
  /** clientsPerWorkload is how many concurrent client loops each workload runs. */
  clientsPerWorkload: 3,
  /** registerKeys is how many control-KV keys the register workload spreads its operations over. */
  registerKeys: 3,
  /** registerOpsPerKeyMax bounds one key's history so the linearizability check stays tractable; past it the workload stops issuing operations on that key. */
  registerOpsPerKeyMax: 2_000,
  /** spansPerRequest is how many spans (each in its own trace) one set-workload request carries. */
  spansPerRequest: 2,
  /** setAttemptsMax is how many times the set workload sends the same request (a retry is byte-identical, so the idempotency key dedupes it). */
  setAttemptsMax: 3,
  /** setRequestsMax bounds the set workload's requests of one run (and so the trace reads afterwards). */
  setRequestsMax: 20_000,
  /** logLinesPerRequest is how many lines (of one client's stream) one logs-workload request carries. */
  logLinesPerRequest: 3,
  /** logsRequestsMax bounds the logs workload's requests of one run. */
  logsRequestsMax: 20_000,
  /** logsReadPageLines is the `limit` of one Loki read-back page. */
  logsReadPageLines: 1_000,
  /** logsReadPagesMax bounds the pages read back per stream (logsRequestsMax * logLinesPerRequest lines fit). */
  logsReadPagesMax: 100,
  /** counterPointsPerRequest is how many points (of one client's series) one counter-workload request carries. */
  counterPointsPerRequest: 3,
  /** counterRequestsMax bounds the counter workload's requests of one run. */
  counterRequestsMax: 20_000,
  /** opTimeoutMs is the client deadline of one operation; past it the outcome is unknown. */
  opTimeoutMs: 3_000,
  /** responseBytesMax caps one answer the clients read. */
  responseBytesMax: 4 * 1024 * 1024,
  /** faultStartMs is the quiet time before the first fault, so the clients' first operations see a healthy cluster. */
  faultStartMs: 1_000,
  /** faultMsMin and faultMsMax bound how long one fault lasts. */
  faultMsMin: 1_500,
  faultMsMax: 4_000,
  /** faultLeftMsMin is the least of its window a fault must have left when the previous heal ends, or it is skipped (not applied for no time). */
  faultLeftMsMin: 500,
  /** healMsMin and healMsMax bound the healthy gap after each fault. */
  healMsMin: 1_000,
  healMsMax: 3_000,
  /** faultsMax bounds the faults of one schedule. */
  faultsMax: 10_000,
  /** recoveryDeadlineMs is how long the cluster gets after the last heal to have every node ready and every shard a leader. */
  recoveryDeadlineMs: 30_000,
  /** recoveryPollMs is the pause between recovery checks. */
  recoveryPollMs: 250,
  /** readBackAttemptsMax is how many times a final read is tried (across nodes) before it counts as failed. */
  readBackAttemptsMax: 5,
  /** readBackConcurrency is how many final reads are in flight at once. */
  readBackConcurrency: 8,
  /** portProbeMs bounds the check, before a run starts its cluster, that nothing answers on its ports. */
  portProbeMs: 1_000,
  /** killGoneWaitMsMax bounds how long a restart waits for the killed process of the node to be gone (it may outlive SIGKILL in a write, holding its ports). */
  killGoneWaitMsMax: 15_000,
  /** restartReadyDeadlineMs is how long a restarted node gets to answer /readyz before the heal step moves on (recovery waits again). */
  restartReadyDeadlineMs: 15_000,
  /** stopTimeoutMs is how long nodes get after SIGTERM at the end of a run before SIGKILL (short: the cluster is thrown away, and CI waits for it). */
  stopTimeoutMs: 1_000,
  /**
   * portsFreeWaitMs is how long a cluster start waits for its ports to stop
   * answering before it refuses them (ERR_CONFLICT): the previous cluster of
   * the same test may still hold them for a moment (seen once in CI between
   * two planted-bug scenarios, right after the first's stop; cause not found).
   */
  portsFreeWaitMs: 10_000,
  /** cliDeadlineMs bounds the `otlpdb cluster up` child process. */
  cliDeadlineMs: 60_000,
  /** childOutputBytesMax caps what is kept of that child's output. */
  childOutputBytesMax: 1024 * 1024,
  /** historyOpsMax bounds the operations one run records (all workloads). */
  historyOpsMax: 200_000,
  /** anomaliesShownMax bounds the anomalies listed per workload in results.json (the counts stay exact). */
  anomaliesShownMax: 100,
  /** peerPort, apiPort, otlpGrpcPort and otlpHttpPort are node i's ports on 127.0.0.i, away from a default `cluster up`'s. */
  peerPort: 27_400,
  apiPort: 23_200,
  otlpGrpcPort: 24_317,
  otlpHttpPort: 24_318,
  /** tickMs is the Raft tick the suite's clusters run with (the nodes' default; a shared 2-core machine elects spuriously with shorter ticks). */
  tickMs: 100,
  /** shards is the shard count of the suite's clusters (small: a laptop runs 3-5 nodes of it). */
  shards: 4,
  /** iptablesChain is the suite's own chain; every rule it adds lives there, jumped to from INPUT (a run with --port-offset K uses `OTLPDB-JEPSEN-K`: its rules only match its own peer port). */
  iptablesChain: 'OTLPDB-JEPSEN',
  /**
   * portOffsetStep and portOffsetMax bound --port-offset, which adds K to
   * each of the four ports so that two runs can go side by side: a multiple
   * of 10 (so one run's OTLP/gRPC port never meets another's OTLP/HTTP port,
   * one apart) and at most 990 (the API ports stay below the OTLP ones, the
   * peer ports below the planted-bug tests').
   */
  portOffsetStep: 10,
  portOffsetMax: 990,
  /** killMajorityChance is the share of kill faults that kill a majority of the founders together ("a majority for a while"); the rest kill one node. */
  killMajorityChance: 0.2,
  /** iptablesTimeoutMs bounds one iptables command. */
  iptablesTimeoutMs: 10_000,
  /** diskFullHeadroomBytes is how much free space the full-disk fault leaves on a node's tmpfs: about a second of the workloads' writes, so the disk fills within the fault. */
  diskFullHeadroomBytes: 16 * 1024,
  /** diskGrownBytes is the size of that tmpfs before the fault and after it heals ("space returns"). */
  diskGrownBytes: 256 * 1024 * 1024,
  /** diskMountsMax bounds the tmpfs mounts of one run (at most one per node). */
  diskMountsMax: 9,
  /**
   * clockOffsetsMs are the wall-clock skews the clock nemesis draws from: a
   * few seconds (a lease's TTL), half a minute, and 20 minutes either way
   * (past StorageLimits.idempotencyWindowMsDefault, so a retried request
   * meets a window that moved).
   */
  clockOffsetsMs: [-1_200_000, -30_000, -3_000, 3_000, 30_000, 1_200_000] as readonly number[],
  /** joinersMax bounds the nodes the membership nemesis adds over one run (node ids N+1..N+joinersMax, each on its own loopback address). */
  joinersMax: 3,
  /** leaveTimeoutMs is how long `otlpdb cluster remove` gets to move a joiner's replicas away (below cliDeadlineMs). */
  leaveTimeoutMs: 45_000,
  /** adminAttemptsMax is how many times the nemesis sends one admin request (transport faults, clock offset) before it gives up. */
  adminAttemptsMax: 3,
  /** plantPeerPort, plantApiPort, plantOtlpGrpcPort and plantOtlpHttpPort are the ports of the planted-bug tests' cluster, apart from a run's (so CI may run both at once). */
  plantPeerPort: 29_400,
  plantApiPort: 29_200,
  plantOtlpGrpcPort: 29_317,
  plantOtlpHttpPort: 29_318,
  /** plantIptablesChain is the planted-bug tests' own chain (its rules only match plantPeerPort). */
  plantIptablesChain: 'OTLPDB-JEPSEN-PLANT',
  /** plantCutOffMs is how long a planted-bug scenario keeps a node cut off after its acknowledgements: long enough for the majority to elect new leaders (several election timeouts of tickMs). */
  plantCutOffMs: 4_000,
  /** plantElectMsMax bounds the wait after the cut-off for the majority to lead every group (elections are slower on a loaded machine). */
  plantElectMsMax: 30_000,
  /** plantRequests is how many OTLP requests the ack-before-commit scenario sends to the cut-off node. */
  plantRequests: 8,
  /** plantAttemptsMax bounds each retried step of a planted-bug scenario (a write on the majority, a poll for replication). */
  plantAttemptsMax: 20,
} as const;
assert(JepsenLimits.timeMsMin <= JepsenLimits.timeMsDefault && JepsenLimits.timeMsDefault <= JepsenLimits.timeMsMax, 'the default --time is allowed');
assert(JepsenLimits.faultMsMin <= JepsenLimits.faultMsMax && JepsenLimits.healMsMin <= JepsenLimits.healMsMax, 'fault and heal ranges are ordered');
assert(JepsenLimits.faultMsMin > 0 && JepsenLimits.healMsMin > 0, 'every fault and gap lasts');
assert(JepsenLimits.killMajorityChance > 0 && JepsenLimits.killMajorityChance < 1, 'kills hit one node and a majority, both');
assert(JepsenLimits.apiPort + JepsenLimits.portOffsetMax < JepsenLimits.otlpGrpcPort, 'offset API ports stay below the OTLP ports');
assert(JepsenLimits.otlpHttpPort - JepsenLimits.otlpGrpcPort < JepsenLimits.portOffsetStep, 'offset runs never share an OTLP port');
assert(JepsenLimits.peerPort + JepsenLimits.portOffsetMax < JepsenLimits.plantApiPort, 'offset peer ports stay below the planted-bug tests\' ports');
assert(JepsenLimits.faultLeftMsMin < JepsenLimits.faultMsMin, 'a fault on time is never skipped');
assert(JepsenLimits.clockOffsetsMs.every((ms) => ms !== 0 && Math.abs(ms) <= AdminApiLimits.clockOffsetMsMax), 'every drawn clock offset is a skew the admin route allows');
assert(JepsenLimits.leaveTimeoutMs < JepsenLimits.cliDeadlineMs, 'cluster remove finishes within the CLI deadline');
assert(Math.max(...JepsenLimits.nodesAllowed) + JepsenLimits.joinersMax <= 254, 'every joiner gets a loopback address');
assert(JepsenLimits.setAttemptsMax >= 1 && JepsenLimits.clientsPerWorkload >= 1, 'clients send at least once');
assert(Number(JepsenLimits.plantPeerPort) !== Number(JepsenLimits.peerPort) && Number(JepsenLimits.plantApiPort) !== Number(JepsenLimits.apiPort), 'the planted-bug cluster does not share a run\'s ports');
assert(JepsenLimits.plantCutOffMs >= 2 * RaftLimits.electionTicks * JepsenLimits.tickMs, 'a cut-off outlasts the longest randomized election timeout');
assert(JepsenLimits.logsReadPagesMax * JepsenLimits.logsReadPageLines >= JepsenLimits.logsRequestsMax * JepsenLimits.logLinesPerRequest, 'every line one stream can hold is read back');

/** LogqlLimits bound one LogQL query (src/query/logql): its text and shape, the entries, samples, series and steps it holds. */
export const LogqlLimits = {
  /** queryBytesMax bounds the UTF-8 length of one query text; a longer query is refused before it is lexed. */
  queryBytesMax: 64 * 1024,
  /** nestingDepthMax bounds the parser's recursion (parentheses, nested aggregations, label filter groups). */
  nestingDepthMax: 64,
  /** regexBytesMax bounds the UTF-8 length of one regular expression. */
  regexBytesMax: 4096,
  /** stagesMax bounds the stages of one log pipeline. */
  stagesMax: 128,
  /** templateBytesMax bounds the UTF-8 length of one line_format or label_format template. */
  templateBytesMax: 4096,
  /** lineFormatBytesMax bounds the UTF-8 length of a line a template produces; longer output is ERR_LIMIT_EXCEEDED. */
  lineFormatBytesMax: 256 * 1024,
  /** limitMax bounds a log query's `limit` (Loki's max_entries_limit_per_query). */
  limitMax: 5_000,
  /** entriesHeldMax bounds the entries a log query holds at once: its limit, entries tied at the cut, and the shards' answers. */
  entriesHeldMax: 200_000,
  /** samplesHeldMax bounds the samples a metric query holds (gathered entries turned into samples). */
  samplesHeldMax: 2_000_000,
  /** seriesMax bounds the series of any intermediate or final result of a metric query. */
  seriesMax: 20_000,
  /** stepsMax bounds the evaluation steps of a range query (Loki's 11,000 points per series). */
  stepsMax: 11_000,
  /** pointsMax bounds series × steps of one intermediate result. */
  pointsMax: 5_000_000,
  /** selectBatchEntriesMax is the most entries a LogSource yields in one batch. */
  selectBatchEntriesMax: 1_000,
  /** hintsMax bounds the LineHint alternatives derived from one query (past it, fewer filters are used: hints only over-approximate). */
  hintsMax: 16,
  /** hintLiteralsMax bounds the `contains` substrings of one LineHint. */
  hintLiteralsMax: 16,
} as const;
assert(LogqlLimits.regexBytesMax < LogqlLimits.queryBytesMax, 'logql regexBytesMax < queryBytesMax');
assert(LogqlLimits.templateBytesMax < LogqlLimits.queryBytesMax, 'logql templateBytesMax < queryBytesMax');
assert(LogqlLimits.limitMax >= 100, 'logql limitMax admits Loki\'s default limit of 100');
assert(LogqlLimits.entriesHeldMax >= 2 * LogqlLimits.limitMax, 'a log query holds its limit and a tie group');
assert(LogqlLimits.pointsMax >= LogqlLimits.stepsMax && LogqlLimits.pointsMax >= LogqlLimits.seriesMax, 'one full series and one step of every series fit');
assert(LogqlLimits.selectBatchEntriesMax >= 1 && LogqlLimits.selectBatchEntriesMax <= LogqlLimits.entriesHeldMax, 'a batch fits the held entries');
assert(LogqlLimits.hintsMax >= 1 && LogqlLimits.hintLiteralsMax >= 1, 'at least one hint of one literal');

/**
 * MetricsQueryLimits bound the Prometheus API's reads (query/metrics-read.ts,
 * api/prom-routes.ts, api/prom-remote-write.ts). A read past a series,
 * sample or byte budget is refused with ERR_LIMIT_EXCEEDED, never cut short
 * silently (a PromQL answer over part of the data would be wrong).
 */
export const MetricsQueryLimits = {
  /** seriesMax bounds the Prometheus series one query (select, series, labels) reads across the cluster. */
  seriesMax: 100_000,
  /**
   * samplesMax bounds the float samples one query holds at once on its
   * coordinator, as Prometheus's query.max-samples bounds what a query loads
   * into memory, not what it reads: every sample `select` gathers (all held
   * there) and every point the shards answer a pushed-down part with. What a
   * shard reads for a pushed part (an aggregation streams its partials) is
   * bounded per shard by shardSamplesMax instead.
   */
  samplesMax: 50_000_000,
  /** shardSamplesMax bounds the samples one shard's part of a query reads, which it holds at once (a shard evaluates over whole columns). */
  shardSamplesMax: 10_000_000,
  /** answerBytesMax bounds one shard's encoded answer. */
  answerBytesMax: 64 * 1024 * 1024,
  /** viewCacheSeriesMax bounds the Prometheus view's per-series cache (metrics-prom-view.ts). */
  viewCacheSeriesMax: 200_000,
  /** expBucketsMax bounds the classic buckets one exponential histogram point becomes; more are downscaled. */
  expBucketsMax: 160,
  /** matchersMax bounds the matchers of one selector, as the store does. */
  matchersMax: 64,
  /** matchSetsMax bounds the `match[]` parameters of one API call. */
  matchSetsMax: 64,
  /** rangePointsMax is Prometheus's bound on a range query's points per series (11,000). */
  rangePointsMax: 11_000,
  /** lookbackMsDefault is Prometheus's lookback delta (5 minutes). */
  lookbackMsDefault: 5 * 60 * 1000,
  /** timeoutMsDefault bounds a query without `timeout` (Prometheus's default 2 minutes). */
  timeoutMsDefault: 2 * 60 * 1000,
  /** timeoutMsMax refuses a longer `timeout`. */
  timeoutMsMax: 10 * 60 * 1000,
  /** shardCallMs bounds one shard's part of a read. */
  shardCallMs: 30_000,
  /** batchPartsMax bounds the shard parts one shard.metricsReadBatch call carries (query/metrics-read-batch.ts). */
  batchPartsMax: 256,
  /** batchAnswerBytesMax bounds the answers of one batch call together; a part past it is asked for alone. */
  batchAnswerBytesMax: 8 * 1024 * 1024,
  /** attemptsPerShardMax, retryBackoffBaseMs and retryBackoffMaxMs are the fan-out's failover bounds (as TraceSearchLimits's). */
  attemptsPerShardMax: 64,
  retryBackoffBaseMs: 20,
  retryBackoffMaxMs: 1_000,
  /** remoteWriteBodyBytesMax bounds a compressed remote-write body. */
  remoteWriteBodyBytesMax: 16 * 1024 * 1024,
  /** remoteWriteDecodedBytesMax bounds a remote-write body once snappy-decoded. */
  remoteWriteDecodedBytesMax: 64 * 1024 * 1024,
  /** remoteWriteLabelsMax bounds the labels of one remote-write series. */
  remoteWriteLabelsMax: 128,
  /** rangeMsDefault is the window /series, /labels and /label/{name}/values read without start and end. */
  rangeMsDefault: 6 * 60 * 60 * 1000,
  /**
   * answerBodyBytesMax bounds a range query's JSON answer written as bytes
   * on its coordinator (api/prom-json.ts); past it ERR_LIMIT_EXCEEDED. The
   * text form it replaced stopped at V8's string length (2^29 - 24
   * characters) with a RangeError.
   */
  answerBodyBytesMax: 512 * 1024 * 1024,
} as const;
assert(MetricsQueryLimits.seriesMax >= 1 && MetricsQueryLimits.samplesMax >= MetricsQueryLimits.seriesMax, 'a query may read at least one sample per series');
assert(MetricsQueryLimits.shardSamplesMax >= 1 && MetricsQueryLimits.shardSamplesMax <= MetricsQueryLimits.samplesMax, 'a shard part holds no more than its coordinator may');
assert(MetricsQueryLimits.viewCacheSeriesMax >= MetricsQueryLimits.seriesMax, 'one query\'s series fit the view cache');
assert(MetricsQueryLimits.timeoutMsDefault <= MetricsQueryLimits.timeoutMsMax && MetricsQueryLimits.shardCallMs <= MetricsQueryLimits.timeoutMsMax, 'default timeout and shard budget within the max');
assert(MetricsQueryLimits.remoteWriteBodyBytesMax <= MetricsQueryLimits.remoteWriteDecodedBytesMax, 'a decoded body may be larger than its compressed form');
assert(MetricsQueryLimits.batchAnswerBytesMax + 64 * 1024 <= TransportLimits.frameBytesMax, 'a full batch answer fits one frame');
assert(MetricsQueryLimits.batchPartsMax >= 1, 'a batch carries at least one part');
assert(MetricsQueryLimits.expBucketsMax >= 2, 'an exponential histogram keeps at least two buckets');
assert(MetricsQueryLimits.answerBodyBytesMax >= MetricsQueryLimits.answerBytesMax, 'a query answer may hold one shard answer\'s points');
/**
 * LogsQueryLimits bound Loki's API on a node and the shard-wide log reads
 * behind it (src/query/logs-*.ts, src/api/loki-routes.ts, loki-push.ts):
 * one LogQL query's wall time, entries and answer bytes, the label reads,
 * and a Loki push body.
 */
export const LogsQueryLimits = {
  /**
   * firstRoundEntriesMin is the least a pushed log query's first round asks
   * of each shard (query/logs-query.ts shardEval: a shard asked for
   * max(this, ⌈2 × limit / shards⌉) of its newest entries, and asked again
   * for `limit` only when its answer may reach into the merged first
   * `limit`).
   */
  firstRoundEntriesMin: 16,
  /** wallMsMax bounds a whole query (every shard call and retry); shards not answered by then are partial failures. */
  wallMsMax: 30_000,
  /** shardCallMs bounds one shard's part (its ReadIndex barrier and scan). */
  shardCallMs: 20_000,
  /** attemptsPerShardMax bounds the calls for one shard, leader hints followed included. */
  attemptsPerShardMax: 64,
  /** retryBackoffBaseMs is the first pause after a failed shard call. */
  retryBackoffBaseMs: 20,
  /** retryBackoffMaxMs caps the pause between shard calls. */
  retryBackoffMaxMs: 1_000,
  /** limitDefault is Loki's default `limit` (entries of a log query). */
  limitDefault: 100,
  /** limitMax bounds `limit` (Loki's max_entries_limit_per_query). */
  limitMax: 5_000,
  /** shardEntriesMax bounds the entries one shard answers a select or a pushed log query with; a select of every entry (a metric query) past it is ERR_LIMIT_EXCEEDED. */
  shardEntriesMax: 100_000,
  /** answerBytesMax bounds one shard's encoded answer; an answer past it keeps fewer entries and is a partial failure. */
  answerBytesMax: 8 * 1024 * 1024,
  /** batchEntriesMax bounds one batch a LogSource yields. */
  batchEntriesMax: 256,
  /** rangeMsMax bounds [start, end] of a query or label read (Loki's max_query_length is 721 h). */
  rangeMsMax: 721 * 60 * 60 * 1000,
  /** rangeDefaultMs is the window, ending now, of a query or label read without `start` (Loki: the last hour for queries). */
  rangeDefaultMs: 60 * 60 * 1000,
  /** labelsRangeDefaultMs is the window of the label routes without `start` (Loki: the last 6 h). */
  labelsRangeDefaultMs: 6 * 60 * 60 * 1000,
  /** stepsMax bounds (end - start) / step of a range query (Loki refuses more than 11,000 points). */
  stepsMax: 11_000,
  /** queryBytesMax bounds the LogQL text of `query` (and a pushed-down shard query). */
  queryBytesMax: 64 * 1024,
  /** matchersMax bounds the matchers of one stream selector, `match[]` values of /series, and label pairs of a pushed stream. */
  matchersMax: 64,
  /** seriesMatchesMax bounds the `match[]` parameters of one /series call. */
  seriesMatchesMax: 32,
  /** stringBytesMax bounds one string of a shard frame (a label name or value, a line, a tenant). */
  stringBytesMax: 256 * 1024,
  /** pushBodyBytesMax bounds a Loki push body on the wire (before snappy); the ingest path's requestBytesMax bounds it decompressed. */
  pushBodyBytesMax: 4 * 1024 * 1024,
  /** pushStreamsMax bounds the streams of one push. */
  pushStreamsMax: 10_000,
} as const;
assert(LogsQueryLimits.shardCallMs <= LogsQueryLimits.wallMsMax, 'a shard call fits the query');
assert(LogsQueryLimits.wallMsMax <= QueryLimits.wallMsCeiling, 'a log query fits the wall-time ceiling');
assert(LogsQueryLimits.limitDefault <= LogsQueryLimits.limitMax && LogsQueryLimits.limitMax <= LogsQueryLimits.shardEntriesMax, 'limits ordered');
assert(LogsQueryLimits.shardEntriesMax < LogStoreLimits.selectRowsMax, 'a shard select can tell that it passed shardEntriesMax');
assert(LogsQueryLimits.answerBytesMax + 64 * 1024 <= TransportLimits.frameBytesMax, 'a shard answer fits one frame');
assert(LogsQueryLimits.rangeDefaultMs <= LogsQueryLimits.rangeMsMax && LogsQueryLimits.labelsRangeDefaultMs <= LogsQueryLimits.rangeMsMax, 'default ranges are allowed');
assert(LogsQueryLimits.batchEntriesMax >= 1 && LogsQueryLimits.batchEntriesMax <= AggregateLimits.mergeBatchRowsMax, 'a batch is a merge batch');
assert(LogsQueryLimits.pushBodyBytesMax <= IngestLimits.requestBytesMax, 'a push body fits an ingest request');

/**
 * LogSearchLimits bound otlpdb's native JSON log search (query/log-search*.ts,
 * POST /api/v1/logs/search): the body, the shape of its boolean query, fuzzy
 * expansion per block, and what one search may read and return. Time range,
 * wall time and the per-shard answer bytes are LogsQueryLimits'.
 */
export const LogSearchLimits = {
  /** bodyBytesMax bounds the JSON body of one search (or its `query=` parameter). */
  bodyBytesMax: 64 * 1024,
  /** nodesMax bounds the nodes (and, or, not, term, phrase, fuzzy, range) of one query. */
  nodesMax: 256,
  /** depthMax bounds the nesting of and/or/not. */
  depthMax: 16,
  /** termsMax bounds the terms of one query: every term, fuzzy term and phrase term counts one. */
  termsMax: 64,
  /** phraseTermsMax bounds the terms of one phrase (as LogBlockLimits.phraseTermsMax). */
  phraseTermsMax: 32,
  /** stringBytesMax bounds one term, phrase, field name or selector string. */
  stringBytesMax: 4096,
  /** fuzzyDistanceMax is the largest Levenshtein distance a fuzzy term may ask. */
  fuzzyDistanceMax: 2,
  /** fuzzyExpansionsMax bounds the dictionary terms one fuzzy node expands to in one block; past it the block is not pruned by that node and its rows are checked one by one. */
  fuzzyExpansionsMax: 512,
  /** fieldsPerLineMax bounds the logfmt pairs a range filter reads of one line. */
  fieldsPerLineMax: 1024,
  /** bytesScannedMaxPerShard bounds the index and block bytes one shard reads for a search; past it the shard stops and its answer is partial. */
  bytesScannedMaxPerShard: 1024 * 1024 * 1024,
} as const;
assert(LogSearchLimits.phraseTermsMax <= LogBlockLimits.phraseTermsMax, 'a search phrase fits a block phrase');
assert(LogSearchLimits.termsMax <= LogSearchLimits.nodesMax, 'terms are nodes, or inside phrase nodes');
assert(LogSearchLimits.fuzzyDistanceMax >= 1 && LogSearchLimits.fuzzyDistanceMax <= 2, 'fuzzy distance is 1 or 2');
assert(LogSearchLimits.bodyBytesMax <= LogsQueryLimits.queryBytesMax, 'a search body fits a shard frame string');
assert(LogSearchLimits.stringBytesMax <= LogSearchLimits.bodyBytesMax, 'a string fits the body');

/**
 * Re2Limits bound how query regular expressions run (src/re2-guard.ts): V8's
 * backtracking engine only where its worst case stays under
 * backtrackStepsMax steps for the value at hand, the linear-time engine
 * elsewhere.
 */
export const Re2Limits = {
  /** backtrackStepsMax bounds the estimated worst-case backtracking steps of one match on V8 (about 10-50 ms). */
  backtrackStepsMax: 2 ** 24,
} as const;
assert(Re2Limits.backtrackStepsMax >= 1024, 'backtrackStepsMax leaves V8 the short values of simple patterns');

/** PromqlLimits bound one PromQL evaluation (src/query/promql): its text, its shape, and the series and samples it holds. */
export const PromqlLimits = {
  /** queryBytesMax bounds the UTF-8 length of one query text; a longer query is refused before it is parsed. */
  queryBytesMax: 64 * 1024,
  /** exprDepthMax bounds the nesting of one query's syntax tree (the walkers recurse). */
  exprDepthMax: 128,
  /** matchersMax bounds the label matchers of one selector. */
  matchersMax: 64,
  /** regexBytesMax bounds one regex (a matcher's or label_replace's). */
  regexBytesMax: 4 * 1024,
  /** stepsMax bounds the steps of one range query (Prometheus's 11,000 points per series). */
  stepsMax: 11_000,
  /** samplesMax bounds the samples one query holds at once: read from its source and in its intermediate and final results (Prometheus's query.max-samples default). */
  samplesMax: 50_000_000,
  /** seriesMax bounds the series one selector or one step's vector may hold. */
  seriesMax: 1_000_000,
  /** lookbackMsDefault is Prometheus's default lookback delta (5 minutes). */
  lookbackMsDefault: 300_000,
  /** abortCheckEvery is how many series or steps the evaluator handles between checks of its AbortSignal. */
  abortCheckEvery: 256,
  /** groupStepCellsMax bounds groups × steps of an aggregation computed as columns (aggregate-columns.ts: 12 to 28 bytes a cell); past it the per-step path runs. */
  groupStepCellsMax: 16_000_000,
  /** parseCacheEntriesMax bounds the parsed query texts a node keeps (promql/parse-cache.ts): a dashboard's panels and their pushed-down parts, per tenant. */
  parseCacheEntriesMax: 1_024,
  /** parseCacheTextBytesMax bounds the kept texts' keys in memory (2 bytes a UTF-16 code unit); their trees are of the same order. */
  parseCacheTextBytesMax: 4 * 1024 * 1024,
  /** parseCacheTextBytesEachMax is the longest key kept; a longer text is parsed each time (rare, and parsing is then the smaller cost). */
  parseCacheTextBytesEachMax: 16 * 1024,
} as const;
assert(PromqlLimits.regexBytesMax < PromqlLimits.queryBytesMax, 'promql regexBytesMax < queryBytesMax');
assert(PromqlLimits.parseCacheEntriesMax >= 1 && PromqlLimits.parseCacheTextBytesEachMax <= PromqlLimits.parseCacheTextBytesMax, 'the parse cache keeps at least one text');
assert(PromqlLimits.seriesMax <= PromqlLimits.samplesMax, 'a series holds at least one sample');
assert(PromqlLimits.groupStepCellsMax >= PromqlLimits.stepsMax, 'one group over the most steps fits the column path');
assert(PromqlLimits.stepsMax >= 1 && PromqlLimits.lookbackMsDefault > 0, 'promql steps and lookback are positive');
assert(PromqlLimits.stepsMax === MetricsQueryLimits.rangePointsMax, 'the engine and the API routes bound range queries alike');
assert(PromqlLimits.lookbackMsDefault === MetricsQueryLimits.lookbackMsDefault, 'the engine and the API routes default to the same lookback');
assert(PromqlLimits.samplesMax >= MetricsQueryLimits.samplesMax, 'the engine holds at least what the cluster may read for it');
