// Preloaded (`node --import`) into a gateway child of the end-to-end benchmark: answers the
// parent's 'round-trips' message with the PMTP client's HTTP request count in this process.

import { roundTrips } from '../src/native/client/pmtp-client.js';

process.on('message', (message) => {
  if (message === 'round-trips') process.send?.({ roundTrips: roundTrips.count });
});
// the IPC channel must not keep a gateway alive that was told to stop
process.channel?.unref();
