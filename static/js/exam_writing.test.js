// node --test: the word count matches the server's rule, bands and ranges as IELTS writes them, and the progress
// chart's points per criterion.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { bandText, countWords, noteLines, rangeText } from './exam_writing.js';
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

test('bands are written with one decimal, and a likely range only when the scorer gives two different ends', () => {
  assert.equal(bandText(5), '5.0');
  assert.equal(bandText(6.5), '6.5');
  assert.equal(rangeText([5, 8.5]), '(likely 5.0–8.5)');
  assert.equal(rangeText([6, 6]), null);
  assert.equal(rangeText(null), null);
  assert.equal(rangeText(undefined), null);
});

test('notes under the text: paragraphs named by their first words, corrections to try, advice as it is, repeats once', () => {
  const text = 'The diagram illustrate a process.\n\nSecond paragraph has eight words in it all told.';
  const task = { kind: 'task', start: 35, end: text.length, message: 'This paragraph is about something other than the question.', suggestion: 'Replace it with a point that answers the question.' };
  const grammar = { kind: 'grammar', start: 12, end: 22, message: 'The verb does not agree with its subject.', suggestion: 'illustrates' };
  const lines = noteLines([grammar, task, { ...grammar }, { kind: 'spelling', start: 0, end: 3, message: 'Unknown word.' }], text);
  assert.deepEqual(lines, [
    { label: 'Grammar', text: 'The verb does not agree with its subject. Try “illustrates”. (in 2 places)' },
    { label: 'Task', text: '“Second paragraph has eight words in …” This paragraph is about something other than the question. Replace it with a point that answers the question.' },
    { label: 'Spelling', text: 'Unknown word.' },
  ]);
});
