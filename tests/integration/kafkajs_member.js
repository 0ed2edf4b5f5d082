// kafkajs_member.js — one kafkajs consumer-group member (kafkajs from npm,
// not written here), the kafkajs counterpart of rdk_check's member, for
// t_kafka_group_stall.sh:
//
//   node kafkajs_member.js BROKER TOPIC GROUP NAME DIR [REBALANCE_MS]
//
// Subscribes to TOPIC from the beginning (kafkajs's default assigners are
// eager: every rebalance revokes everything) with a session timeout of
// 30 s and a rebalance timeout of REBALANCE_MS (default 10000). Prints
// "NAME PARTITION OFFSET KEY" per record and "NAME assigned P,P..." per
// generation joined, flushed at once. kafkajs commits what eachMessage
// returned from after each batch. Fetches wait at most 0.5 s for records
// (kafkajs heartbeats between fetches: a rebalance is heard sooner).
//   - While DIR/NAME.stall exists when a record arrives, eachMessage
//     waits (no heartbeat, no poll: a member stalled in its processing)
//     and prints "NAME stalled P O" and, once the file is gone,
//     "NAME resumed P O".
//   - Once DIR/NAME.stop exists it disconnects (LeaveGroup) and prints
//     "NAME closed N".
// Errors kafkajs reports (a commit refused...) go to stderr, one a line.
const fs = require('fs');
const path = process.env.KAFKAJS_PATH || 'kafkajs';
const { Kafka, logLevel } = require(path);

const [broker, topic, group, name, dir, rebalance] = process.argv.slice(2);
const out = (s) => fs.writeSync(1, `${s}\n`);
const exists = (f) => fs.existsSync(`${dir}/${name}.${f}`);
const tick = () => new Promise((resolve) => { setTimeout(resolve, 100); });

(async () => {
  // Errors as kafkajs logs them (a refused commit: "The coordinator is
  // not aware of this member"), for the test to find.
  const logCreator = () => ({ namespace, log }) => {
    if (log.error) fs.writeSync(2, `${name} ${namespace}: ${log.message}: ${log.error}\n`);
  };
  const kafka = new Kafka({ clientId: name, brokers: [broker], logLevel: logLevel.ERROR,
    logCreator, retry: { retries: 10 } });
  const c = kafka.consumer({ groupId: group, heartbeatInterval: 500, sessionTimeout: 30000,
    rebalanceTimeout: Number(rebalance || 10000), maxWaitTimeInMs: 500 });
  let n = 0;

  c.on(c.events.GROUP_JOIN, (e) => {
    const parts = (e.payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b);
    out(`${name} assigned ${parts.length ? parts.join(',') : '-'}`);
  });
  c.on(c.events.CRASH, (e) => fs.writeSync(2, `${name} crash: ${e.payload.error}\n`));
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await c.run({
    eachMessage: async ({ partition, message }) => {
      if (exists('stall')) {
        out(`${name} stalled ${partition} ${message.offset}`);
        while (exists('stall')) await tick();
        out(`${name} resumed ${partition} ${message.offset}`);
      }
      out(`${name} ${partition} ${message.offset} ${message.key}`);
      n++;
    },
  });
  while (!exists('stop')) await tick();
  await c.disconnect();
  out(`${name} closed ${n}`);
})().catch((e) => {
  fs.writeSync(2, `${name} ${e.type || e.name}: ${e.message}\n`);
  process.exit(1);
});
