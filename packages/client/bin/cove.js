#!/usr/bin/env node
// The `cove` command-line client; the implementation is compiled to dist/node/cli (npm run build).
import { main } from '../dist/node/cli/main.js';

process.exitCode = await main(process.argv);
