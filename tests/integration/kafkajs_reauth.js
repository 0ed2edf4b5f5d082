// kafkajs_reauth.js — a kafkajs producer and consumer (kafkajs from npm,
// not written here) that live across several SASL sessions of the broker
// (connections.max.reauth.ms), for t_kafka_reauth.sh:
//
//   node kafkajs_reauth.js BROKER TOPIC GROUP USER:PASSWORD COUNT INTERVAL_MS THRESHOLD_MS
//
// The consumer (group GROUP, from the beginning) and the producer connect
// once; the producer sends COUNT records "r0".."r<COUNT-1>" to partition 0,
// one every INTERVAL_MS, each awaited; once the consumer has them all it
// prints "sent COUNT received COUNT in order" (or what it got) and both
// disconnect. kafkajs re-authenticates a connection once its session has
// less than THRESHOLD_MS left (its reauthenticationThreshold, 10000 by
// default: above a short lifetime it would re-authenticate before every
// request, which the broker refuses within a second of the last one, as
// Kafka's).
const path = process.env.KAFKAJS_PATH || 'kafkajs';
const { Kafka, logLevel } = require(path);

const [broker, topic, group, cred, countText, intervalText, thresholdText] =
  process.argv.slice(2);
const count = Number(countText);
const sasl = { mechanism: 'scram-sha-256', username: cred.split(':')[0],
  password: cred.split(':').slice(1).join(':') };

(async () => {
  const kafka = new Kafka({ clientId: 'mqfs-reauth-test', brokers: [broker],
    logLevel: logLevel.NOTHING, retry: { retries: 0 }, sasl,
    reauthenticationThreshold: Number(thresholdText) });
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: group, heartbeatInterval: 300,
    sessionTimeout: 10000, maxWaitTimeInMs: 200 });
  const got = [];
  let done;
  const all = new Promise((resolve) => { done = resolve; });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => {
    got.push(message.value.toString());
    if (got.length >= count) done();
  } });
  // Progress on stderr (the test shows it when the run fails): how long
  // each send waited for its answer.
  const t0 = Date.now();
  const note = (what) => process.stderr.write(`${Date.now() - t0} ms: ${what}\n`);
  note(`consumer running, ${got.length} received`);
  await producer.connect();
  for (let i = 0; i < count; i++) {
    note(`send r${i}`);
    await producer.send({ topic, acks: -1, messages: [{ value: `r${i}`, partition: 0 }] });
    note(`r${i} acknowledged, ${got.length} received`);
    await new Promise((r) => setTimeout(r, Number(intervalText)));
  }
  await all;
  const inOrder = got.every((v, i) => v === `r${i}`);
  console.log(`sent ${count} received ${got.length}${inOrder ? ' in order' : ` ${got.join(',')}`}`);
  await producer.disconnect();
  await consumer.disconnect();
})().catch((e) => {
  console.error(`${e.name}: ${e.message}`);
  process.exit(1);
});
