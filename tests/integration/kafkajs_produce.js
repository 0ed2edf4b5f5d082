// kafkajs_produce.js — produces with kafkajs (a Kafka client from npm that
// no one here wrote) for t_kafka_produce.sh.
//
//   node kafkajs_produce.js BROKER TOPIC SPEC
//
// SPEC is JSON: { "acks": -1|0|1, "compression": "none"|"gzip",
//   "partition": N, "sasl": { "username": u, "password": p },
//   "create": false (no auto-creation asked in Metadata),
//   "idempotent": true (InitProducerId, batches with producer id and sequence),
//   "messages": [ { "key": k, "value": v, "headers": { h: x } } ] }
// Prints the base offset of the send (-1 for acks=0) and exits 0, or prints
// the error's type and message to stderr and exits 1.
const path = process.env.KAFKAJS_PATH || 'kafkajs';
const { Kafka, CompressionTypes, logLevel } = require(path);

const [broker, topic, specText] = process.argv.slice(2);
const spec = JSON.parse(specText);

(async () => {
  const kafka = new Kafka({
    clientId: 'mqfs-test',
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    sasl: spec.sasl ? { mechanism: 'scram-sha-256', ...spec.sasl } : undefined,
  });
  const producer = kafka.producer({
    allowAutoTopicCreation: spec.create !== false,
    idempotent: spec.idempotent === true,
    maxInFlightRequests: spec.idempotent === true ? 1 : undefined,
    // kafkajs refuses an idempotent producer that may not retry.
    retry: spec.idempotent === true ? { retries: 3 } : undefined,
  });
  await producer.connect();
  try {
    const res = await producer.send({
      topic,
      acks: spec.acks === undefined ? -1 : spec.acks,
      compression: spec.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
      messages: spec.messages.map((m) => ({ ...m, partition: spec.partition || 0 })),
    });
    console.log(res.length ? res[0].baseOffset : -1);
  } finally {
    await producer.disconnect();
  }
})().catch((e) => {
  console.error(`${e.type || e.name}: ${e.message}`);
  process.exit(1);
});
