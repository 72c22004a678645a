// The documentation's training example (examples/train-digits.ts) runs and prints what the documentation shows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { exampleShownInDocs } from '../docs/example-output.js';

test('examples/train-digits.ts prints the output the documentation shows', () => {
  const lines = exampleShownInDocs('train-digits.ts');
  assert.is(lines.length, 4);
  assert.match(lines[2]!, /same θ: true/);
});

test.run();
