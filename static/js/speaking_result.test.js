// node --test: the speaking result's headline follows the evidence, unsure words are marked, figures read plainly.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { bandSummary, figureText, transcriptPieces } from './speaking_result.js';

test('a full result shows its band; a partial one a provisional band with what was missing; none without speech', () => {
  assert.deepEqual(bandSummary({ overall_band: 6.5, evidence: { missing: [] } }), { label: 'Overall speaking band', band: '6.5', note: '' });
  const partial = bandSummary({ overall_band: null, provisional_band: 5.5, evidence: { missing: ['Part 2 and Part 3 were not taken.'] } });
  assert.equal(partial.band, '5.5');
  assert.match(partial.label, /Provisional/);
  assert.match(partial.note, /Part 2 and Part 3 were not taken/);
  const none = bandSummary({ overall_band: null, provisional_band: null, evidence: { missing: ['Only 3 words (1 seconds) of your speech were heard: too little to mark.'] } });
  assert.equal(none.band, '–');
  assert.match(none.note, /too little to mark/);
});

test('the words the recogniser was unsure of are cut out as marked pieces, the rest kept verbatim', () => {
  const pieces = transcriptPieces('I live in Reykjavik now', [{ start: 10, end: 19 }]);
  assert.deepEqual(pieces, [
    { text: 'I live in ', unsure: false },
    { text: 'Reykjavik', unsure: true },
    { text: ' now', unsure: false },
  ]);
  assert.equal(pieces.map((p) => p.text).join(''), 'I live in Reykjavik now');
  assert.deepEqual(transcriptPieces('Hello', []), [{ text: 'Hello', unsure: false }]);
});

test('a figure reads as its value beside bands 6 and 7, or as not measured', () => {
  const rate = { value: 112, unit: 'words a minute', band_6: 111.4, band_7: 124.3, better: 'higher' };
  assert.deepEqual(figureText(rate), { value: '112 words a minute', typical: 'Band 6: about 111.4 · band 7: about 124.3' });
  assert.equal(figureText({ ...rate, value: null }).value, 'not measured');
  assert.match(figureText({ ...rate, better: 'lower' }).typical, /at most/);
});
