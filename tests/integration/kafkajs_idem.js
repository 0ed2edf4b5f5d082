// kafkajs_idem.js — kafkajs's idempotent producer (idempotent: true,
// maxInFlightRequests 1) kept sending while a test kills or stops the
// partition's leader, for t_kafka_cluster_failover.sh.
//
//   node kafkajs_idem.js BROKER TOPIC PARTITION TAG STOP_FILE
//
// Sends TAG-v0, TAG-v1, ... five records a send, one send after the
// other, until STOP_FILE exists; kafkajs retries a send across the leader
// change with the same sequence, which the new leader must answer from
// the producer state it rebuilt from its log, not append twice. SASL as
// the cluster's brokers (admin). Checks that the sends' base offsets
// follow one another record for record; prints "idem N FIRST LAST" and
// exits 0, or the error on stderr and exits 1.
//
// With KEYS (a sixth argument), the records of rdk_check kidem for a
// compacted topic: key TAG-k<i % KEYS>, value null (a tombstone) when
// i % 7 == 6, the bytes TAG-v<i> LF 0x01 0xff when i % 5 == 4; the
// report is then followed by "OFFSET I" per record.
const path = process.env.KAFKAJS_PATH || 'kafkajs';
const fs = require('fs');
const { Kafka, logLevel } = require(path);

const [broker, topic, partText, tag, stopFile, keysText] = process.argv.slice(2);
const keys = keysText ? Number(keysText) : 0;
const record = (i) => {
  if (!keys) return { value: `${tag}-v${i}`, partition };
  let value = Buffer.from(`${tag}-v${i}`);
  if (i % 7 === 6) value = null;
  else if (i % 5 === 4) value = Buffer.concat([value, Buffer.from([0x0a, 0x01, 0xff])]);
  return { key: `${tag}-k${i % keys}`, value, partition };
};
const partition = Number(partText);
const PER_SEND = 5;

(async () => {
  const kafka = new Kafka({
    clientId: 'mqfs-idem',
    brokers: broker.split(','),
    logLevel: logLevel.NOTHING,
    sasl: { mechanism: 'scram-sha-256', username: 'admin', password: 'admin-secret' },
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  await producer.connect();
  let n = 0;
  let first = -1;
  let next = -1;
  try {
    while (!fs.existsSync(stopFile)) {
      const messages = [];
      for (let i = 0; i < PER_SEND; i++) messages.push(record(n + i));
      const res = await producer.send({ topic, acks: -1, messages });
      const base = Number(res[0].baseOffset);
      if (first < 0) first = base;
      else if (base !== next) throw new Error(`records ${n}.. at offset ${base}, expected ${next}`);
      next = base + PER_SEND;
      n += PER_SEND;
    }
    if (n === 0) throw new Error('stopped before the first send');
    console.log(`idem ${n} ${first} ${next - 1}`);
    if (keys) for (let i = 0; i < n; i++) console.log(`${first + i} ${i}`);
  } finally {
    await producer.disconnect();
  }
})().catch((e) => {
  console.error(`${e.type || e.name}: ${e.message}`);
  process.exit(1);
});
