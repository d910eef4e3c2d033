import { createSelector, STRATEGY_NAMES } from '../../../src/balancing/index.js';
import { createRandom } from '../../../src/model-server/prng.js';
import { selectorContract } from './strategy-contract.js';

for (const strategy of STRATEGY_NAMES) {
  selectorContract({
    title: strategy,
    build: () => createSelector(strategy, { random: createRandom(1234) }),
    contextFor: () => undefined,
    // Two uniform draws cap any endpoint at 2/n of the picks, so heavy weights fall a little short.
    // The scoring strategies count the request about to be sent ((in flight + 1) / weight, as
    // Envoy does), which gives light endpoints slightly more than their weight's share.
    weightTolerance: strategy === 'random-two' ? 0.05 : strategy === 'load-aware' || strategy === 'prefix-aware' ? 0.02 : 0.01,
  });

  selectorContract({
    title: `${strategy} with sticky keys`,
    build: () =>
      createSelector(strategy, { random: createRandom(99), sticky: { maxLoadFactor: 1.25 } }),
    contextFor: (index) => ({ stickyKey: `conversation-${index}` }),
    // Hashing spreads keys statistically, and bounded loads push the overflow of small
    // endpoints (whose load fluctuates most relative to their capacity) onto larger ones.
    weightTolerance: 0.03,
  });
}
