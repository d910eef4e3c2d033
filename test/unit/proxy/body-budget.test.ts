import { describe, expect, it } from 'vitest';
import { BodyBudget } from '../../../src/proxy/body-budget.js';

describe('BodyBudget', () => {
  it('takes bytes while they fit under the limit, and nothing when they do not', () => {
    const budget = new BodyBudget();
    expect(budget.take(600, 1000)).toBe(true);
    expect(budget.take(400, 1000)).toBe(true);
    expect(budget.held).toBe(1000);
    expect(budget.take(1, 1000)).toBe(false);
    expect(budget.held).toBe(1000);
    // An empty body always fits.
    expect(budget.take(0, 1000)).toBe(true);
    budget.give(600);
    expect(budget.take(500, 1000)).toBe(true);
    expect(budget.held).toBe(900);
  });

  it('follows a lower limit at once (a reload): what is held stays, new bodies wait for room', () => {
    const budget = new BodyBudget();
    expect(budget.take(800, 1000)).toBe(true);
    expect(budget.take(100, 500)).toBe(false);
    budget.give(800);
    expect(budget.take(100, 500)).toBe(true);
  });
});
