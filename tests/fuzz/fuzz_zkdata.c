/*
 * fuzz_zkdata.c — libFuzzer target: the JSON documents of the ZooKeeper
 * znodes (repl/zkdata.c) as a broker or the controller reads them from
 * whatever the ensemble holds (another broker's registration, a topic's
 * assignment, a partition's state, a topic's or user's config, ISR change
 * and log-dir notifications, a reassignment request, the cluster id, the
 * controller and its epoch). The input is given to every decoder.
 *
 * Properties checked (abort() on a violation):
 *   - a refusal is -EBADMSG with a reason (a NUL-terminated, non-empty
 *     why), -ENOMEM, or (a user without SCRAM credential) -ENOENT;
 *   - what a decoder accepts keeps the invariants zkdata.h promises
 *     (broker ids, partitions and epochs in range, no broker twice in a
 *     replica list or an ISR, ports 0..65535, topic ids 22 characters);
 *   - what a decoder accepts, encoded again, decodes to the same fields
 *     (what mqfs writes back of a document it read is read the same).
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address, and by `make
 * test` with the corpus replay driver (replay.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "repl/sasl.h"
#include "repl/zkdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decoder's result: 0 goes on to the round trip, a refusal must be one
 * of the errnos it may give, with its reason when -EBADMSG. */
static bool accepted(int rc, const char *why, bool enoent)
{
	if (rc == 0)
		return true;
	if (rc == -EBADMSG) {
		if (!why[0] || strnlen(why, ZK_WHY_LEN) >= ZK_WHY_LEN)
			abort();
		return false;
	}
	if (rc != -ENOMEM && !(enoent && rc == -ENOENT))
		abort();
	return false;
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool same_ids(const int32_t *a, int na, const int32_t *b, int nb)
{
	return na == nb && (na == 0 || !memcmp(a, b, (size_t)na * sizeof(*a)));
}

/* Broker ids: >= 0, none twice. */
static void check_ids(const int32_t *ids, int n)
{
	if (n < 0)
		abort();
	for (int i = 0; i < n; i++) {
		if (ids[i] < 0)
			abort();
		for (int j = 0; j < i; j++)
			if (ids[i] == ids[j])
				abort();
	}
}

/* The encoded text (NULL: out of memory, which is no finding) decoded
 * again by decode into out; aborts when it is refused. */
#define REDECODE(text, decode, out)                                    \
	do {                                                           \
		char why2_[ZK_WHY_LEN] = "";                           \
		if (!(text))                                           \
			goto done;                                     \
		if ((decode)((text), strlen(text), (out), why2_) != 0) \
			abort();                                       \
	} while (0)

static void check_broker(const char *buf, size_t len)
{
	struct zk_broker a, b = { 0 };
	char why[ZK_WHY_LEN] = "", *text = NULL;

	if (!accepted(zk_broker_decode(buf, len, &a, why), why, false))
		return;
	if (a.n_endpoints < 1 || a.version < 1 || a.version > 5 || a.timestamp < 0)
		abort();
	for (int i = 0; i < a.n_endpoints; i++)
		if (!a.endpoints[i].listener || !a.endpoints[i].security_protocol ||
		    !a.endpoints[i].host || a.endpoints[i].port < 0 || a.endpoints[i].port > 65535)
			abort();
	text = zk_broker_encode(&a);
	REDECODE(text, zk_broker_decode, &b);
	if (b.n_endpoints != a.n_endpoints || b.jmx_port != a.jmx_port ||
	    b.timestamp != a.timestamp || !same_str(a.rack, b.rack) ||
	    b.n_features != a.n_features || b.n_ineligible != a.n_ineligible)
		abort();
	for (int i = 0; i < a.n_endpoints; i++)
		if (strcmp(a.endpoints[i].listener, b.endpoints[i].listener) ||
		    strcmp(a.endpoints[i].security_protocol, b.endpoints[i].security_protocol) ||
		    strcmp(a.endpoints[i].host, b.endpoints[i].host) ||
		    a.endpoints[i].port != b.endpoints[i].port)
			abort();
	for (int i = 0; i < a.n_features; i++)
		if (strcmp(a.features[i].name, b.features[i].name) ||
		    a.features[i].min_version != b.features[i].min_version ||
		    a.features[i].max_version != b.features[i].max_version)
			abort();
	/* The encoder groups a topic's partitions: compare as multisets. */
	for (int i = 0; i < a.n_ineligible; i++) {
		int na = 0, nb = 0;

		if (!zk_topic_name_valid(a.ineligible[i].topic) || a.ineligible[i].partition < 0)
			abort();
		for (int j = 0; j < a.n_ineligible; j++)
			na += !strcmp(a.ineligible[i].topic, a.ineligible[j].topic) &&
			      a.ineligible[i].partition == a.ineligible[j].partition;
		for (int j = 0; j < b.n_ineligible; j++)
			nb += !strcmp(a.ineligible[i].topic, b.ineligible[j].topic) &&
			      a.ineligible[i].partition == b.ineligible[j].partition;
		if (na != nb)
			abort();
	}
done:
	free(text);
	zk_broker_clear(&a);
	zk_broker_clear(&b);
}

static void check_controller(const char *buf, size_t len)
{
	struct zk_controller a, b;
	char why[ZK_WHY_LEN] = "", *text = NULL;
	int32_t e1, e2;

	if (accepted(zk_controller_decode(buf, len, &a, why), why, false)) {
		if (a.broker_id < 0 || a.version < 1 || a.version > 2 || a.timestamp < 0)
			abort();
		text = zk_controller_encode(&a);
		REDECODE(text, zk_controller_decode, &b);
		if (b.broker_id != a.broker_id || b.timestamp != a.timestamp)
			abort();
	}
done:
	free(text);
	text = NULL;
	why[0] = '\0';
	if (!accepted(zk_controller_epoch_decode(buf, len, &e1, why), why, false))
		return;
	if (e1 < 0)
		abort();
	text = zk_controller_epoch_encode(e1);
	if (text && (zk_controller_epoch_decode(text, strlen(text), &e2, why) || e2 != e1))
		abort();
	free(text);
}

static void check_topic(const char *buf, size_t len)
{
	struct zk_topic a, b = { 0 };
	char why[ZK_WHY_LEN] = "", *text = NULL;

	if (!accepted(zk_topic_decode(buf, len, &a, why), why, false))
		return;
	if (a.n_partitions < 1 || (a.topic_id[0] && !zk_uuid_valid(a.topic_id)))
		abort();
	for (int i = 0; i < a.n_partitions; i++) {
		const struct zk_assignment *p = &a.partitions[i];

		if (p->n_replicas < 1)
			abort();
		check_ids(p->replicas, p->n_replicas);
		check_ids(p->adding, p->n_adding);
		check_ids(p->removing, p->n_removing);
	}
	text = zk_topic_encode(&a);
	REDECODE(text, zk_topic_decode, &b);
	if (b.n_partitions != a.n_partitions || strcmp(a.topic_id, b.topic_id))
		abort();
	for (int i = 0; i < a.n_partitions; i++) {
		const struct zk_assignment *x = &a.partitions[i], *y = &b.partitions[i];

		if (!same_ids(x->replicas, x->n_replicas, y->replicas, y->n_replicas) ||
		    !same_ids(x->adding, x->n_adding, y->adding, y->n_adding) ||
		    !same_ids(x->removing, x->n_removing, y->removing, y->n_removing))
			abort();
	}
done:
	free(text);
	zk_topic_clear(&a);
	zk_topic_clear(&b);
}

static void check_state(const char *buf, size_t len)
{
	struct zk_partition_state a, b = { 0 };
	char why[ZK_WHY_LEN] = "", *text = NULL;

	if (!accepted(zk_partition_state_decode(buf, len, &a, why), why, false))
		return;
	if (a.controller_epoch < 0 || a.leader < ZK_LEADER_NONE || a.leader_epoch < 0 ||
	    (a.leader_recovery_state != ZK_RECOVERY_RECOVERED &&
	     a.leader_recovery_state != ZK_RECOVERY_RECOVERING))
		abort();
	check_ids(a.isr, a.n_isr);
	text = zk_partition_state_encode(&a);
	REDECODE(text, zk_partition_state_decode, &b);
	if (b.controller_epoch != a.controller_epoch || b.leader != a.leader ||
	    b.leader_epoch != a.leader_epoch ||
	    b.leader_recovery_state != a.leader_recovery_state ||
	    !same_ids(a.isr, a.n_isr, b.isr, b.n_isr))
		abort();
done:
	free(text);
	zk_partition_state_clear(&a);
	zk_partition_state_clear(&b);
}

static void check_config(const char *buf, size_t len)
{
	struct zk_config a, b = { 0 };
	struct sasl_user_creds cred;
	char why[ZK_WHY_LEN] = "", *text = NULL;

	if (accepted(zk_config_decode(buf, len, &a, why), why, false)) {
		text = zk_config_encode(&a);
		REDECODE(text, zk_config_decode, &b);
		if (b.n != a.n)
			abort();
		for (int i = 0; i < a.n; i++)
			if (!same_str(zk_config_get(&b, a.keys[i]), a.values[i]))
				abort();
	}
done:
	free(text);
	zk_config_clear(&a);
	zk_config_clear(&b);
	why[0] = '\0';
	(void)accepted(zk_user_scram_decode(buf, len, &cred, why), why, true);
}

static void check_isr_change(const char *buf, size_t len)
{
	struct zk_isr_change a, b = { 0 };
	char why[ZK_WHY_LEN] = "", *text = NULL;

	if (!accepted(zk_isr_change_decode(buf, len, &a, why), why, false))
		return;
	text = zk_isr_change_encode(&a);
	REDECODE(text, zk_isr_change_decode, &b);
	if (b.n != a.n)
		abort();
	for (int i = 0; i < a.n; i++)
		if (!zk_topic_name_valid(a.partitions[i].topic) || a.partitions[i].partition < 0 ||
		    strcmp(a.partitions[i].topic, b.partitions[i].topic) ||
		    a.partitions[i].partition != b.partitions[i].partition)
			abort();
done:
	free(text);
	zk_isr_change_clear(&a);
	zk_isr_change_clear(&b);
}

static void check_reassign(const char *buf, size_t len)
{
	struct zk_reassign a, b = { 0 };
	char why[ZK_WHY_LEN] = "", *text = NULL;

	if (!accepted(zk_reassign_decode(buf, len, &a, why), why, false))
		return;
	text = zk_reassign_encode(&a);
	REDECODE(text, zk_reassign_decode, &b);
	if (b.n != a.n)
		abort();
	for (int i = 0; i < a.n; i++) {
		const struct zk_reassign_part *x = &a.parts[i], *y = &b.parts[i];

		if (!zk_topic_name_valid(x->topic) || x->partition < 0 ||
		    strcmp(x->topic, y->topic) || x->partition != y->partition ||
		    !same_ids(x->replicas, x->n_replicas, y->replicas, y->n_replicas))
			abort();
	}
done:
	free(text);
	zk_reassign_clear(&a);
	zk_reassign_clear(&b);
}

static void check_small(const char *buf, size_t len)
{
	char why[ZK_WHY_LEN] = "", *text = NULL;
	char id[ZK_UUID_LEN + 1], id2[ZK_UUID_LEN + 1];
	char path[ZK_PATH_MAX], path2[ZK_PATH_MAX];
	int32_t broker, event, broker2, event2;

	if (accepted(zk_log_dir_event_decode(buf, len, &broker, &event, why), why, false)) {
		if (broker < 0 || event < 0)
			abort();
		text = zk_log_dir_event_encode(broker, event);
		if (text && (zk_log_dir_event_decode(text, strlen(text), &broker2, &event2, why) ||
			     broker2 != broker || event2 != event))
			abort();
		free(text);
		text = NULL;
	}
	why[0] = '\0';
	if (accepted(zk_cluster_id_decode(buf, len, id, why), why, false)) {
		if (!zk_uuid_valid(id))
			abort();
		text = zk_cluster_id_encode(id);
		if (text && (zk_cluster_id_decode(text, strlen(text), id2, why) || strcmp(id, id2)))
			abort();
		free(text);
		text = NULL;
	}
	why[0] = '\0';
	if (accepted(zk_config_change_decode(buf, len, path, sizeof(path), why), why, false)) {
		if (strnlen(path, sizeof(path)) >= sizeof(path))
			abort();
		text = zk_config_change_encode(path);
		if (text &&
		    (zk_config_change_decode(text, strlen(text), path2, sizeof(path2), why) ||
		     strcmp(path, path2)))
			abort();
		free(text);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	check_broker(buf, size);
	check_controller(buf, size);
	check_topic(buf, size);
	check_state(buf, size);
	check_config(buf, size);
	check_isr_change(buf, size);
	check_reassign(buf, size);
	check_small(buf, size);
	return 0;
}
