#!/usr/bin/env node
// The `blockvfs` command. Everything is in program.ts; this only runs it and exits with its status.
import { run } from './program.js';

process.exitCode = await run(process.argv.slice(2));
