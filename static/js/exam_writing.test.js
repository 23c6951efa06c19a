// node --test: the word count matches the server's rule, and the progress chart's points per criterion.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { countWords } from './exam_writing.js';
import { speakingPoints, writingPoints } from './progress_chart.js';

test('words are whitespace-separated tokens holding a letter or digit, as the server counts them', () => {
  assert.equal(countWords(''), 0);
  assert.equal(countWords('  Hello,   world!\n\nIt is 2025 - a year.  '), 7);
  assert.equal(countWords('— ... !!'), 0);
  assert.equal(countWords('naïve café Zürich'), 3);
});

test('a writing result gives one point per criterion: the two tasks averaged, Task 1/Task 2 criteria merged', () => {
  const band = (b) => ({ band: b, feedback: '' });
  const result = {
    tasks: [
      { task: 1, criteria: { task_achievement: band(5), coherence_cohesion: band(6), lexical_resource: band(6), grammatical_range_accuracy: band(5) } },
      { task: 2, criteria: { task_response: band(7), coherence_cohesion: band(7), lexical_resource: band(6), grammatical_range_accuracy: band(6) } },
    ],
  };
  assert.deepEqual(writingPoints(result), { task: 6, coherence_cohesion: 6.5, lexical_resource: 6, grammatical_range_accuracy: 5.5 });
  assert.deepEqual(speakingPoints({ criteria: { pronunciation: band(7), fluency_coherence: band(6) } }), { pronunciation: 7, fluency_coherence: 6 });
});
