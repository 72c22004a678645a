// The documentation's CNN example (examples/cnn-digits.ts) runs and prints what the documentation shows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { exampleShownInDocs } from '../docs/example-output.js';

test('examples/cnn-digits.ts prints the output the documentation shows', () => {
  assert.is(exampleShownInDocs('cnn-digits.ts').length, 4);
});

test.run();
