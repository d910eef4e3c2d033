// Loaded into a Sluice process with `node --import` (through NODE_OPTIONS) by tests: SIGUSR2
// makes the process fail as a bug would, with an exception nothing catches or, when
// SLUICE_TEST_FAULT=rejection, a promise rejection nothing handles. Sluice has no such hook.
process.on('SIGUSR2', () => {
  setImmediate(() => {
    if (process.env.SLUICE_TEST_FAULT === 'rejection') void Promise.reject(new Error('injected rejection'));
    else throw new Error('injected fault');
  });
});
