import { expect } from 'vitest';
import { ConfigError } from '../../src/config/index.js';

/** The issues of the ConfigError that `run` throws; the test fails when it throws nothing or something else. */
export function rejectionIssues(run: () => unknown): string[] {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return (caught as ConfigError).issues;
}
