#!/usr/bin/env node
// The installed `mailbridge` command: sizes libuv's threadpool, then runs the ESM CLI (main.ts).
// CommonJS because the pool starts with the first async file read, which loading any ES module does.

// fsyncs hold a pool thread each; 16 lets the journal merge more of them and keeps reads from
// queueing behind them (libuv's default is 4). An operator's own setting wins.
process.env.UV_THREADPOOL_SIZE ??= '16';
void import('./main.js');
