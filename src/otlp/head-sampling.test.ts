import t from 'tap';
import { SamplingDecision, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { SeededRand } from '../fs/seeded-rand.js';
import { keepTrace, sampleUpperBound, traceIdAccumulation } from './head-sampling.js';

const SEED = 20261127;

t.test('keepTrace decides exactly as the OpenTelemetry JS SDK TraceIdRatioBasedSampler', async (t) => {
  const rand = new SeededRand(SEED);
  const ratios = [0, 1e-9, 0.001, 0.1, 0.25, 0.5, 0.75, 0.999, 1];
  let kept = 0;
  let checked = 0;
  for (const ratio of ratios) {
    const sdk = new TraceIdRatioBasedSampler(ratio);
    const bound = sampleUpperBound(ratio);
    for (let i = 0; i < 2_000; i++) {
      const id = rand.bytes(16);
      // Edge accumulations: all-ones words XOR to 0 or 0xffffffff.
      if (i === 0) id.fill(0xff, 0, 4).fill(0, 4);
      const hex = Buffer.from(id).toString('hex');
      const theirs = sdk.shouldSample({}, hex).decision === SamplingDecision.RECORD_AND_SAMPLED;
      const ours = keepTrace(id, bound);
      if (ours !== theirs) t.fail(`ratio ${ratio} trace ${hex}: ours ${ours}, SDK ${theirs} (seed ${SEED})`);
      if (ours) kept++;
      checked++;
    }
  }
  t.pass(`${checked} decisions agree (${kept} kept)`);
  t.equal(traceIdAccumulation(Buffer.from('ffffffff000000000000000000000000', 'hex')), 0xffffffff);
  t.ok(keepTrace(Buffer.from('ffffffff000000000000000000000000', 'hex'), sampleUpperBound(1)), 'ratio 1 keeps even the largest accumulation');
  t.notOk(keepTrace(Buffer.from('00000000000000000000000000000001', 'hex'), sampleUpperBound(0)), 'ratio 0 keeps nothing');
});

t.test('the comparison fails when a planted bug XORs little-endian words', async (t) => {
  const rand = new SeededRand(SEED + 1);
  const sdk = new TraceIdRatioBasedSampler(0.5);
  let differ = 0;
  for (let i = 0; i < 500; i++) {
    const id = rand.bytes(16);
    const le = Buffer.from(id).readUInt32LE(0) ^ Buffer.from(id).readUInt32LE(4) ^ Buffer.from(id).readUInt32LE(8) ^ Buffer.from(id).readUInt32LE(12);
    const wrong = le >>> 0 < sampleUpperBound(0.5);
    const theirs = sdk.shouldSample({}, Buffer.from(id).toString('hex')).decision === SamplingDecision.RECORD_AND_SAMPLED;
    if (wrong !== theirs) differ++;
  }
  t.ok(differ > 100, `a little-endian accumulation disagrees with the SDK on ${differ} of 500 traces`);
});
