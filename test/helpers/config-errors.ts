import { expect } from 'vitest';
import { ConfigError } from '../../src/config/index.js';

/** The ConfigError that `run` throws; the test fails when it throws nothing or something else. */
export function rejection(run: () => unknown): ConfigError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return caught as ConfigError;
}

/** The issues of the ConfigError that `run` throws (see rejection). */
export function rejectionIssues(run: () => unknown): string[] {
  return rejection(run).issues;
}
