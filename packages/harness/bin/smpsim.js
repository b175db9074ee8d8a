#!/usr/bin/env node
import { main } from '../dist/cli.js';

// A reader that goes away (`smpsim bugs | head`) is not an error.
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (e) => {
    if (e && e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
main(process.argv.slice(2));
