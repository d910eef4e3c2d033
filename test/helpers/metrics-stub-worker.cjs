// A stand-in for a Sluice worker, for tests of the cluster primary's metrics merge: answers the
// primary's collections with what the test last told it (`test:answer`: metrics; `hold`, to
// answer only when told `test:release`; `exitAfterAnswer`, to exit 100 ms after answering, as a
// worker that crashes after it answered), asks for a merged scrape when told (`test:scrape`) and
// passes the merge back (`test:scraped`).
const slot = Number(process.env.SLUICE_WORKER_SLOT);
let answer = { metrics: [], hold: false, exitAfterAnswer: false };
/** Answers held until `test:release`. */
let held = [];
process.on('message', (m) => {
  switch (m.type) {
    case 'test:answer':
      answer = m;
      return;
    case 'test:scrape':
      process.send({ type: 'sluice:metrics-request', id: m.id, openMetrics: false });
      return;
    case 'sluice:collect-metrics': {
      const { metrics, hold, exitAfterAnswer } = answer;
      const reply = () => {
        process.send({ type: 'sluice:worker-metrics', id: m.id, metrics });
        if (exitAfterAnswer) setTimeout(() => process.exit(1), 100);
      };
      if (hold) held.push(reply);
      else reply();
      return;
    }
    case 'test:release':
      for (const reply of held) reply();
      held = [];
      return;
    case 'sluice:merged-metrics':
      process.send({ type: 'test:scraped', id: m.id, body: m.body });
      return;
  }
});
process.send({ type: 'sluice:hello' });
process.send({ type: 'test:up', slot });
setTimeout(() => process.send({ type: 'sluice:serving' }), 50);
