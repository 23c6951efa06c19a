// node --test: the writing paper's single clock (ticks, warnings at 10 and 5 minutes, time up once).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatClock, startPaperClock, warningsFor } from './paper_clock.js';

function fakeTime() {
  let ms = 0;
  let fn = null;
  return {
    now: () => ms,
    setIntervalFn: (f) => ((fn = f), 1),
    clearIntervalFn: () => (fn = null),
    advance(seconds) {
      ms += seconds * 1000;
      fn?.();
    },
    get running() {
      return fn !== null;
    },
  };
}

test('the clock formats minutes and seconds and never shows a negative time', () => {
  assert.equal(formatClock(3600), '60:00');
  assert.equal(formatClock(59.2), '1:00');
  assert.equal(formatClock(-3), '0:00');
});

test('an hour paper warns at 10 and 5 minutes left, once each, then calls time once', () => {
  const time = fakeTime();
  const warnings = [];
  let ticks = 0;
  let up = 0;
  startPaperClock({ secondsLeft: 3600, limit: 3600, onTick: () => (ticks += 1), onWarning: (w) => warnings.push(w.minutes), onTimeUp: () => (up += 1), ...time });
  time.advance(49 * 60);
  assert.deepEqual(warnings, []);
  time.advance(61);
  assert.deepEqual(warnings, [10]);
  time.advance(5 * 60);
  assert.deepEqual(warnings, [10, 5]);
  time.advance(5 * 60);
  assert.equal(up, 1);
  assert.equal(time.running, false, 'the clock stops at 0');
  assert.ok(ticks >= 4);
});

test('a shortened paper warns in proportion, and warnings already past at load are not repeated', () => {
  assert.deepEqual(warningsFor(180).map((w) => w.at), [30, 15]);
  const time = fakeTime();
  const warnings = [];
  startPaperClock({ secondsLeft: 20, limit: 180, onTick: () => {}, onWarning: (w) => warnings.push(w.minutes), onTimeUp: () => {}, ...time });
  time.advance(6);
  assert.deepEqual(warnings, [5]);
});
