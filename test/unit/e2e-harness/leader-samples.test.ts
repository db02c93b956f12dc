// The judgement of the real-cluster upgrade scenario's samples (test/e2e/harness/leader-samples.ts):
// two pods believing they lead, or one leading without holding the Lease on either side of its answer.
import { describe, expect, it } from 'vitest';
import { leadershipViolations, type LeaderSample } from '../../e2e/harness/leader-samples.js';

const sample = (leaders: string[], holderBefore: string, holderAfter = holderBefore): LeaderSample => ({ atMs: 0, holderBefore, holderAfter, leaders, asked: ['op-a', 'op-b'], silent: [] });

describe('leadershipViolations', () => {
  it.each([
    { name: 'one leader, the holder', samples: [sample(['op-a'], 'op-a_1234')], violations: 0 },
    { name: 'nobody leads (a hand-over)', samples: [sample([], '')], violations: 0 },
    { name: 'the Lease changed between the reads: the leader holds it on one side', samples: [sample(['op-b'], '', 'op-b_99')], violations: 0 },
    { name: 'two pods believe they lead', samples: [sample(['op-a', 'op-b'], 'op-a_1')], violations: 1 },
    { name: 'a pod believes it leads, the Lease says another', samples: [sample(['op-a'], 'op-b_1', 'op-b_1')], violations: 1 },
  ])('$name', ({ samples, violations }) => {
    expect(leadershipViolations(samples)).toHaveLength(violations);
  });
});
