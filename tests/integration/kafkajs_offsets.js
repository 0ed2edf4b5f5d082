// kafkajs_offsets.js — ListOffsets through kafkajs's admin client (from
// npm, not written here), for t_kafka_consume.sh:
//
//   node kafkajs_offsets.js BROKER TOPIC [TIMESTAMP_MS]
//
// Prints "low <earliest> high <latest>" of partition 0, and with a
// timestamp "at <offset>" (the first offset at or after it, -1 none).
const path = process.env.KAFKAJS_PATH || 'kafkajs';
const { Kafka, logLevel } = require(path);

const [broker, topic, ts] = process.argv.slice(2);

(async () => {
  const kafka = new Kafka({ clientId: 'mqfs-test', brokers: [broker],
    logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const p0 = (await admin.fetchTopicOffsets(topic)).find((o) => o.partition === 0);
    console.log(`low ${p0.low} high ${p0.high}`);
    if (ts !== undefined) {
      const at = (await admin.fetchTopicOffsetsByTimestamp(topic, Number(ts)))
        .find((o) => o.partition === 0);
      console.log(`at ${at.offset}`);
    }
  } finally {
    await admin.disconnect();
  }
})().catch((e) => {
  console.error(`${e.type || e.name}: ${e.message}`);
  process.exit(1);
});
