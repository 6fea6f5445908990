import t from 'tap';
import { shardMove } from './views.js';
import { renderMove } from '../../cli/commands/cluster.js';

t.test('shardMove names the nodes a shard still adds and removes to reach its placement', async (t) => {
  t.equal(shardMove([1, 2, 3], [], [3, 2, 1]), null, 'membership equal to the placement: no move');
  t.same(shardMove([1, 2, 3], [4], [2, 3, 4]), { adding: [4], removing: [1] }, 'a learner catching up and a voter to drop');
  t.same(shardMove([2, 3, 4, 1], [], [2, 3, 4]), { adding: [], removing: [1] }, 'the old voter not yet removed');
  t.same(shardMove([1, 2], [3], null), { adding: [3], removing: [] }, 'no placement yet: learners are still a move');
  t.equal(shardMove([1, 2, 3], [], null), null);
  t.equal(renderMove(shardMove([1, 2, 3], [4], [2, 3, 4])), '+4 -1');
  t.equal(renderMove(null), '-');
});
