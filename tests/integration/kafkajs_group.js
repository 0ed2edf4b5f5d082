// kafkajs_group.js — a kafkajs consumer group of two members (kafkajs from
// npm, not written here), for t_kafka_groups.sh:
//
//   node kafkajs_group.js BROKER TOPIC GROUP PARTITIONS RECORDS READY_FILE [USER:PASSWORD]
//
// With USER:PASSWORD the members authenticate with SASL SCRAM-SHA-256 (the
// cluster's listeners).
// Starts two consumers of GROUP on TOPIC and waits until both hold a
// share of the PARTITIONS partitions (no partition in both, every
// partition in one); then writes "ready" to READY_FILE (the
// test then appends RECORDS records through the mount) and prints, once
// RECORDS records have arrived, one line per record "member<i> <partition>
// <offset> <value>", sorted. Both members then leave (LeaveGroup). The
// members' events, with the ms since the start, go to READY_FILE.events.
const fs = require('fs');
const path = process.env.KAFKAJS_PATH || 'kafkajs';
const { Kafka, logLevel } = require(path);

const [broker, topic, group, nparts, nrecords, readyFile, cred] = process.argv.slice(2);
const sasl = cred ? { mechanism: 'scram-sha-256', username: cred.split(':')[0],
  password: cred.split(':').slice(1).join(':') } : undefined;

(async () => {
  const kafka = new Kafka({ clientId: 'mqfs-group-test', brokers: [broker],
    logLevel: logLevel.NOTHING, retry: { retries: 5 }, sasl });
  const members = [0, 1].map(() => kafka.consumer({ groupId: group,
    heartbeatInterval: 300, sessionTimeout: 10000, rebalanceTimeout: 10000 }));
  const joined = [null, null];
  const got = [];
  let done;
  const allIn = new Promise((resolve) => { done = resolve; });
  let readyDone;
  const ready = new Promise((resolve) => { readyDone = resolve; });

  const check = () => {
    if (!joined[0] || !joined[1]) return;
    const a = joined[0].parts, b = joined[1].parts;
    if (a.length === 0 || b.length === 0) return;
    if (a.some((p) => b.includes(p))) return;
    if (a.length + b.length !== Number(nparts)) return;
    readyDone();
  };
  // The members' timeline (joins, rebalances, fetches and their
  // durations, crashes), for a test that fails to see where time went.
  const timeline = fs.createWriteStream(`${readyFile}.events`);
  const t0 = Date.now();
  members.forEach((c, i) => {
    for (const ev of ['GROUP_JOIN', 'REBALANCING', 'FETCH', 'CRASH', 'REQUEST_TIMEOUT',
      'CONNECT', 'STOP']) {
      c.on(c.events[ev], (e) => {
        const p = e.payload || {};
        const what = ev === 'GROUP_JOIN'
          ? `${p.memberId} leader ${p.isLeader} ${JSON.stringify(p.memberAssignment)} in ${p.duration} ms`
          : ev === 'FETCH' ? `${p.numberOfBatches} batches in ${p.duration} ms`
            : ev === 'CRASH' ? String(p.error) : '';
        timeline.write(`${Date.now() - t0} ms member${i} ${ev} ${what}\n`);
      });
    }
    c.on(c.events.GROUP_JOIN, (e) => {
      joined[i] = { parts: (e.payload.memberAssignment[topic] || []).slice().sort() };
      check();
    });
  });
  for (const [i, c] of members.entries()) {
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      eachMessage: async ({ partition, message }) => {
        got.push(`member${i} ${partition} ${message.offset} ${message.value.toString()}`);
        if (got.length >= Number(nrecords)) done();
      },
    });
  }
  await ready;
  fs.writeFileSync(readyFile, 'ready\n');
  await allIn;
  await Promise.all(members.map((c) => c.disconnect()));
  console.log(got.sort().join('\n'));
})().catch((e) => {
  console.error(`${e.type || e.name}: ${e.message}`);
  process.exit(1);
});
