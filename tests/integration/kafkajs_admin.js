// kafkajs_admin.js — kafkajs's admin client (from npm, not written here)
// against a broker, for t_kafka_admin.sh and t_cluster_admin.sh:
//
//   node kafkajs_admin.js BROKER create TOPIC PARTITIONS [RF [CONFIG_JSON [validate]]]
//   node kafkajs_admin.js BROKER create-many PREFIX N RF   (PREFIX0..N-1, one request)
//   node kafkajs_admin.js BROKER delete TOPIC
//   node kafkajs_admin.js BROKER recreate TOPIC   (delete, then create at once: one partition)
//   node kafkajs_admin.js BROKER partitions TOPIC COUNT
//   node kafkajs_admin.js BROKER describe TOPIC [NAME...]
//   node kafkajs_admin.js BROKER alter TOPIC CONFIG_JSON
//   node kafkajs_admin.js BROKER describe-broker ID [NAME...]
//   node kafkajs_admin.js BROKER alter-broker ID CONFIG_JSON   (the broker's dynamic settings)
//   node kafkajs_admin.js BROKER describe-group GROUP
//   node kafkajs_admin.js BROKER delete-group GROUP
//   node kafkajs_admin.js BROKER group-offsets GROUP TOPIC
//   node kafkajs_admin.js BROKER group-offsets-all GROUP
//   node kafkajs_admin.js BROKER reset-offsets GROUP TOPIC earliest|latest
//   node kafkajs_admin.js BROKER set-offsets GROUP TOPIC OFFSET   (every partition)
//   node kafkajs_admin.js BROKER list-groups
//   node kafkajs_admin.js BROKER delete-records TOPIC PARTITION OFFSET
//   node kafkajs_admin.js BROKER acls TOPIC   (describe, create, delete one ACL)
//   node kafkajs_admin.js BROKER reassign TOPIC PARTITION R1,R2,...
//   node kafkajs_admin.js BROKER reassignments TOPIC   (its partition 0)
//
// Prints "ok" (create: "exists" for TOPIC_ALREADY_EXISTS, which kafkajs
// does not throw), or for describe one
// line per setting: "name=value source=N readonly=B synonyms=a:4,b:5";
// describe-group "state=S protocol=P members=N", group-offsets one
// "partition offset" line per partition, group-offsets-all (OffsetFetch
// with null topics: every offset the coordinator keeps) one "topic
// partition offset" line per partition listed, reset-offsets "ok" once
// admin.resetOffsets settles (within 20 s), set-offsets "ok" once
// admin.setOffsets does, list-groups one
// "group protocolType" line per group of every broker (ListGroups);
// delete-records (DeleteRecords, OFFSET -1: the high watermark) "ok low=N
// high=M", the partition's offsets as ListOffsets gives them after;
// reassign (AlterPartitionReassignments, through the controller) "ok";
// reassignments (ListPartitionReassignments) one "P replicas=a,b
// adding=c removing=d" line per partition moving, nothing when none is.
// A refusal prints "error <Kafka's error type>: <message>" and exits 1.
// With KAFKA_SASL_USER and KAFKA_SASL_PASSWORD set it authenticates with
// SCRAM-SHA-256 (a cluster's SASL_PLAINTEXT listener).
const path = process.env.KAFKAJS_PATH || 'kafkajs';
const { Kafka, logLevel, ConfigResourceTypes } = require(path);

const [broker, op, topic, ...rest] = process.argv.slice(2);

const entries = (json) =>
  Object.entries(JSON.parse(json || '{}')).map(([name, value]) => ({ name, value }));

(async () => {
  const sasl = process.env.KAFKA_SASL_USER ? { mechanism: 'scram-sha-256',
    username: process.env.KAFKA_SASL_USER, password: process.env.KAFKA_SASL_PASSWORD } : undefined;
  const kafka = new Kafka({ clientId: 'mqfs-admin-test', brokers: [broker], sasl,
    logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin();
  await admin.connect();
  // The group operations ask for a coordinator through the brokers of
  // the metadata, which only a topic operation fetches otherwise.
  if (op.endsWith('group') || op.endsWith('groups') || op.startsWith('group-offsets')) await admin.fetchTopicMetadata({ topics: [] });
  try {
    if (op === 'create') {
      const [parts, rf, cfg, validate] = rest;
      const created = await admin.createTopics({
        validateOnly: validate === 'validate',
        waitForLeaders: validate !== 'validate',
        timeout: 20000,
        topics: [{ topic, numPartitions: Number(parts),
          replicationFactor: rf === undefined ? -1 : Number(rf),
          configEntries: entries(cfg) }],
      });
      // kafkajs answers TOPIC_ALREADY_EXISTS with false, not an error.
      console.log(created || validate === 'validate' ? 'ok' : 'exists');
    } else if (op === 'create-many') {
      const [n, rf] = rest;
      const topics = [];
      for (let i = 0; i < Number(n); i++)
        topics.push({ topic: `${topic}${i}`, numPartitions: 1, replicationFactor: Number(rf) });
      await admin.createTopics({ waitForLeaders: true, timeout: 30000, topics });
      console.log('ok');
    } else if (op === 'delete') {
      await admin.deleteTopics({ topics: [topic], timeout: 20000 });
      console.log('ok');
    } else if (op === 'recreate') {
      // DeleteTopics, then at once CreateTopics of the same name: the
      // answer to the first comes once the topic is gone.
      await admin.deleteTopics({ topics: [topic], timeout: 20000 });
      const created = await admin.createTopics({ waitForLeaders: true, timeout: 20000,
        topics: [{ topic, numPartitions: 1, replicationFactor: -1 }] });
      console.log(created ? 'ok' : 'exists');
    } else if (op === 'partitions') {
      await admin.createPartitions({ topicPartitions: [{ topic, count: Number(rest[0]) }] });
      console.log('ok');
    } else if (op === 'describe') {
      const res = await admin.describeConfigs({ includeSynonyms: true,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic,
          configNames: rest.length ? rest : undefined }] });
      for (const r of res.resources) {
        if (r.errorCode) throw Object.assign(new Error(r.errorMessage), { type: r.errorCode });
        for (const e of r.configEntries) {
          const syn = (e.configSynonyms || []).map((s) => `${s.configName}:${s.configSource}`);
          console.log(`${e.configName}=${e.configValue} source=${e.configSource} ` +
            `readonly=${e.readOnly} synonyms=${syn.join(',')}`);
        }
      }
    } else if (op === 'describe-broker' || op === 'alter-broker') {
      const resource = { type: ConfigResourceTypes.BROKER, name: topic };
      if (op === 'alter-broker') {
        await admin.alterConfigs({ validateOnly: false,
          resources: [{ ...resource, configEntries: entries(rest[0]) }] });
        console.log('ok');
      } else {
        const res = await admin.describeConfigs({ includeSynonyms: false,
          resources: [{ ...resource, configNames: rest.length ? rest : undefined }] });
        for (const r of res.resources) {
          if (r.errorCode) throw Object.assign(new Error(r.errorMessage), { type: r.errorCode });
          for (const e of r.configEntries)
            console.log(`${e.configName}=${e.configValue} source=${e.configSource} ` +
              `readonly=${e.readOnly}`);
        }
      }
    } else if (op === 'alter') {
      await admin.alterConfigs({ validateOnly: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic,
          configEntries: entries(rest[0]) }] });
      console.log('ok');
    } else if (op === 'describe-group') {
      const { groups: [g] } = await admin.describeGroups([topic]);
      if (g.errorCode) throw Object.assign(new Error('describe'), { type: g.errorCode });
      console.log(`state=${g.state} protocol=${g.protocol} members=${g.members.length}`);
    } else if (op === 'delete-group') {
      try {
        await admin.deleteGroups([topic]);
      } catch (e) {
        // KafkaJSDeleteGroupsError: each group's own error.
        if (e.groups && e.groups.length) throw e.groups[0].error;
        throw e;
      }
      console.log('ok');
    } else if (op === 'group-offsets') {
      const [t] = await admin.fetchOffsets({ groupId: topic, topics: [rest[0]] });
      for (const p of t.partitions) console.log(`${p.partition} ${p.offset}`);
    } else if (op === 'group-offsets-all') {
      // No topics: kafkajs sends a null topic array.
      for (const t of await admin.fetchOffsets({ groupId: topic }))
        for (const p of t.partitions) console.log(`${t.topic} ${p.partition} ${p.offset}`);
    } else if (op === 'reset-offsets' || op === 'set-offsets') {
      // kafkajs runs a consumer of the group whose seek commits -2
      // (earliest), -1 (latest) or the offset as a member (any offset:
      // Kafka takes one past the log end); a commit refused leaves the
      // call unsettled for good, hence the bound.
      const [t, to] = rest;
      let timer;
      const { topics } = await admin.fetchTopicMetadata({ topics: [t] });
      const partitions = topics[0].partitions.map((p) => ({ partition: p.partitionId, offset: to }));
      await Promise.race([
        op === 'reset-offsets'
          ? admin.resetOffsets({ groupId: topic, topic: t, earliest: to === 'earliest' })
          : admin.setOffsets({ groupId: topic, topic: t, partitions }),
        new Promise((resolve, reject) => {
          timer = setTimeout(() => reject(Object.assign(
            new Error(`${op} did not settle in 20 s`), { type: 'TIMEOUT' })), 20000);
        }),
      ]).finally(() => clearTimeout(timer));
      console.log('ok');
    } else if (op === 'list-groups') {
      // kafkajs asks every broker of the metadata and merges the answers.
      const { groups } = await admin.listGroups();
      for (const g of groups) console.log(`${g.groupId} ${g.protocolType}`);
    } else if (op === 'delete-records') {
      const [partition, offset] = rest;
      // It finds the leaders in metadata it does not fetch itself.
      await admin.fetchTopicMetadata({ topics: [topic] });
      try {
        await admin.deleteTopicRecords({ topic,
          partitions: [{ partition: Number(partition), offset }] });
      } catch (e) {
        // KafkaJSDeleteTopicRecordsError (wrapped by the retrier): each
        // partition's own error.
        let x = e;
        while (!x.partitions && (x.originalError || x.cause)) x = x.originalError || x.cause;
        if (x.partitions && x.partitions.length) throw x.partitions[0].error;
        throw e;
      }
      const p = (await admin.fetchTopicOffsets(topic))
        .find((o) => o.partition === Number(partition));
      console.log(`ok low=${p.low} high=${p.high}`);
    } else if (op === 'acls') {
      // describeAcls, createAcls and deleteAcls of TOPIC, each answered
      // on its own line: "describe ok N" or "describe error TYPE".
      const { AclResourceTypes, AclOperationTypes, AclPermissionTypes,
        ResourcePatternTypes } = require(path);
      const binding = { resourceType: AclResourceTypes.TOPIC, resourceName: topic,
        resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:alice',
        host: '*', operation: AclOperationTypes.READ, permissionType: AclPermissionTypes.ALLOW };
      const calls = [['describe', () => admin.describeAcls(binding)],
        ['create', () => admin.createAcls({ acl: [binding] })],
        ['delete', () => admin.deleteAcls({ filters: [binding] })]];
      for (const [name, call] of calls) {
        try {
          const r = await call();
          console.log(`${name} ok ${JSON.stringify(r)}`);
        } catch (e) {
          let x = e;
          while (!x.type && (x.originalError || x.cause)) x = x.originalError || x.cause;
          console.log(`${name} error ${x.type || x.name}`);
        }
      }
    } else if (op === 'reassign') {
      const [partition, replicas] = rest;
      await admin.alterPartitionReassignments({ timeout: 20000, topics: [{ topic,
        partitionAssignment: [{ partition: Number(partition),
          replicas: replicas.split(',').map(Number) }] }] });
      console.log('ok');
    } else if (op === 'reassignments') {
      const r = await admin.listPartitionReassignments({ topics: [{ topic, partitions: [0] }] });
      for (const t of r.topics)
        for (const p of t.partitions)
          console.log(`${p.partition} replicas=${p.replicas.join(',')} ` +
            `adding=${p.addingReplicas.join(',')} removing=${p.removingReplicas.join(',')}`);
    } else {
      throw new Error(`unknown op ${op}`);
    }
  } finally {
    await admin.disconnect();
  }
})().catch((e) => {
  // Retried errors come wrapped (KafkaJSNumberOfRetriesExceeded).
  let inner = e.errors && e.errors.length ? e.errors[0] : e;
  while (inner.originalError || inner.cause) inner = inner.originalError || inner.cause;
  console.log(`error ${inner.type || e.type || e.name}: ${inner.message || e.message}`);
  process.exit(1);
});
