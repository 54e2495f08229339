/**
 * Jest test sequencer that starts the slowest test files first, so that the two workers finish together instead of
 * one of them starting a 90-second browser suite when everything else is done. The order comes from
 * test/support/test-durations.json (the summary reporter's test-results/durations.json, copied there by
 * `npm run test:durations` after a full run on a quiet machine), so that a clean checkout — CI, with no Jest cache —
 * gets it too. Files not listed there use Jest's cached duration if any, else an estimate from their size. It does not
 * skip, filter or shard anything.
 */
const { readFileSync } = require('node:fs');
const { join, relative } = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

/** Bytes of test source per estimated second, for a file with no recorded time (a browser suite of 20 KB ≈ 50 s). */
const BYTES_PER_SECOND = 400;

const root = join(__dirname, '..', '..');

function recorded() {
  try {
    const rows = JSON.parse(readFileSync(join(__dirname, 'test-durations.json'), 'utf8'));
    return new Map(rows.map((row) => [row.file, row.seconds]));
  } catch {
    return new Map();
  }
}

class DurationSequencer extends Sequencer {
  sort(tests) {
    const known = recorded();
    const seconds = (test) => {
      const file = relative(root, test.path);
      const listed = known.get(file);
      if (listed !== undefined) return listed;
      const cached = this.time(test);
      if (cached != null) return cached / 1000;
      return (test.context.hasteFS.getSize(test.path) ?? 0) / BYTES_PER_SECOND;
    };
    const weight = new Map(tests.map((test) => [test, seconds(test)]));
    return [...tests].sort((a, b) => weight.get(b) - weight.get(a) || (a.path < b.path ? -1 : 1));
  }
}

module.exports = DurationSequencer;
