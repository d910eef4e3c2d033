// A stand-in for a Sluice worker, for tests of the cluster primary alone: says hello, reports
// serving, then exits with 3 (a worker that crashed after it served).
process.on('message', () => {});
process.send({ type: 'sluice:hello' });
setTimeout(() => {
  process.send({ type: 'sluice:serving' });
  setTimeout(() => process.exit(3), 200);
}, 100);
