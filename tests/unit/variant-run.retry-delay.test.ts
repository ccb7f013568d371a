import { expect, test } from 'bun:test';
import { retryDelayMs } from '../../coordinator/streams/variant-run';

test('retry delay doubles per consecutive failure and stops at the cap', () => {
  expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, 250, 5000))).toEqual([250, 500, 1000, 2000, 4000, 5000]);
  expect(retryDelayMs(0, 250, 5000)).toBe(250);
  expect(retryDelayMs(40, 250, 5000)).toBe(5000);
});
