#!/usr/bin/env node
// The CLI is TypeScript run by tsx, like the services; registering the loader here keeps `cps` a
// plain `node` program with no build step.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../src/main.ts');
// Exit as soon as the command is done: idle keep-alive sockets must not hold the terminal.
// (stdout/stderr writes are synchronous on Linux for files, pipes and terminals.)
process.exit(await run(process.argv.slice(2)));
