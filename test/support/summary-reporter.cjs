/**
 * Jest reporter that ends the run with one plain line, "tests: N passed, N failed, N skipped", so that any tool
 * reading the end of the output sees the outcome without parsing Jest's own summary. A suite that could not run at
 * all counts as one failure. It also writes each test file's wall time to test-results/durations.json (slowest
 * first) and prints the ten slowest, to keep `npm test` inside its time budget.
 */
const { mkdirSync, writeFileSync } = require('node:fs');
const { join, relative } = require('node:path');

/** How many of the slowest files the summary names. */
const SLOWEST_SHOWN = 10;

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const root = process.cwd();
    const durations = results.testResults
      .map((file) => ({
        file: relative(root, file.testFilePath),
        seconds: Math.round((file.perfStats.end - file.perfStats.start) / 100) / 10,
        tests: file.numPassingTests + file.numFailingTests,
      }))
      .sort((a, b) => b.seconds - a.seconds);
    try {
      mkdirSync(join(root, 'test-results'), { recursive: true });
      writeFileSync(join(root, 'test-results', 'durations.json'), `${JSON.stringify(durations, null, 2)}\n`);
    } catch {
      // A read-only checkout still gets the summary line.
    }
    if (durations.length > 1) {
      process.stdout.write('\nslowest test files:\n');
      for (const d of durations.slice(0, SLOWEST_SHOWN)) process.stdout.write(`  ${d.seconds} s  ${d.file}\n`);
    }
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    process.stdout.write(`\ntests: ${results.numPassedTests} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
module.exports = SummaryReporter;
