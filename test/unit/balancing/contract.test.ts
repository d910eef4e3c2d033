import { createSelector, type StrategyName } from '../../../src/balancing/index.js';
import { selectorContract } from './strategy-contract.js';
import { seededRandom } from './support.js';

const strategies: StrategyName[] = ['round-robin', 'least-connections', 'random-two'];

for (const strategy of strategies) {
  selectorContract({
    title: strategy,
    build: () => createSelector(strategy, { random: seededRandom(1234) }),
    contextFor: () => undefined,
    // Two uniform draws cap any endpoint at 2/n of the picks, so heavy weights fall a little short.
    weightTolerance: strategy === 'random-two' ? 0.05 : 0.01,
  });

  selectorContract({
    title: `${strategy} with sticky keys`,
    build: () =>
      createSelector(strategy, { random: seededRandom(99), sticky: { maxLoadFactor: 1.25 } }),
    contextFor: (index) => ({ stickyKey: `conversation-${index}` }),
    // Hashing spreads keys statistically, and bounded loads push the overflow of small
    // endpoints (whose load fluctuates most relative to their capacity) onto larger ones.
    weightTolerance: 0.03,
  });
}
