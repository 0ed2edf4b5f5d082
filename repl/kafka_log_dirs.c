/*
 * kafka_log_dirs.c — DescribeLogDirs (35) on the broker listener: what
 * kafka-log-dirs.sh --describe and Admin.describeLogDirs send to each
 * broker.
 *
 * A broker has one log directory, its data directory (log.dirs, --data),
 * named by its absolute path. Online, it lists the partitions of the
 * topics asked for (null: every topic, the internal ones too, as Kafka)
 * of which this broker holds a log: a cluster's replicas here,
 * every partition on a single node; a partition asked for that is not
 * here is left out, as Kafka leaves it out. Each with Kafka's values:
 *   partition_size  the bytes of its segments (.log files);
 *   offset_lag      max(hw - log end offset, 0) of that log, which is
 *                   what Kafka's ReplicaManager gives a current (not
 *                   future) log: 0 but for a log whose end is below its
 *                   hw, which the log never lets happen;
 *   is_future_key   false (no log moves between directories).
 * v4 adds the directory's filesystem size and the bytes free to it
 * (statvfs: f_blocks and f_bavail). Offline (a storage error took the
 * directory offline, replica_mgr_log_dir_failure), the directory is
 * listed with KAFKA_STORAGE_ERROR, no topics and the sizes -1, as Kafka
 * lists an offline directory.
 *
 * Threads: a listener worker; topic and partition locks briefly.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "engine/engine.h"
#include "repl/broker_int.h"
#include "repl/cluster.h"
#include "repl/kafka_api.h"
#include "repl/kafka_authz.h"
#include "repl/proto.h"
#include "repl/repl.h"

/* Topic t's partitions among ids (n of them; ids NULL: all) that have a
 * log here, into lt (its partitions allocated). 0 or -ENOMEM. */
static int topic_parts(struct topic *t, const struct proto_elect_partition *ids, int32_t n,
		       struct proto_log_dir_topic *lt)
{
	int32_t np = topic_partitions(t), count = ids ? n : np;

	lt->partitions = calloc((size_t)count + 1, sizeof(*lt->partitions));
	if (!lt->partitions)
		return -ENOMEM;
	for (int32_t i = 0; i < count; i++) {
		int32_t p = ids ? ids[i].partition_id : i;
		struct log_state st;
		struct log *l;

		if (kafka_partition_log(t, p, &l) < 0)
			continue; /* no such partition, or not a replica here */
		log_get_state(l, &st);
		log_unref(l);
		lt->partitions[lt->n_partitions++] = (struct proto_log_dir_partition){
			.partition_index = p,
			.partition_size = st.size_bytes,
			.offset_lag = st.hw > st.log_end_offset ? st.hw - st.log_end_offset : 0,
		};
	}
	return 0;
}

/* The topics asked for (names: a null list's, else the request's) with
 * their partitions here, into res. 0 or -ENOMEM. */
static int dir_topics(struct kafka_api *ka, const struct proto_describe_log_dirs_req *dr,
		      char **names, int n_names, struct proto_log_dir_result *res)
{
	int32_t n = dr->n_topics < 0 ? n_names : dr->n_topics;

	res->topics = calloc((size_t)n + 1, sizeof(*res->topics));
	if (!res->topics)
		return -ENOMEM;
	for (int32_t i = 0; i < n; i++) {
		struct kstr name = dr->n_topics < 0 ? kstr_of(names[i]) : dr->topics[i].topic;
		struct proto_log_dir_topic *lt = &res->topics[res->n_topics];
		struct topic *t = NULL;
		int rc;

		if (kafka_topic_find(ka, name, false, &t) < 0)
			continue; /* unknown, or deleted since the list */
		lt->name = name;
		rc = topic_parts(t, dr->n_topics < 0 ? NULL : dr->topics[i].partitions,
				 dr->n_topics < 0 ? 0 : dr->topics[i].n_partitions, lt);
		topic_put(t);
		if (rc < 0)
			return rc;
		if (lt->n_partitions > 0)
			res->n_topics++;
		else
			free(lt->partitions); /* Kafka lists only topics with logs */
		lt->partitions = lt->n_partitions > 0 ? lt->partitions : NULL;
	}
	return 0;
}

static int log_dirs_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_describe_log_dirs_req *dr = &pr->u.describe_log_dirs;
	struct proto_log_dir_result res = { .total_bytes = -1, .usable_bytes = -1 };
	struct proto_describe_log_dirs_resp resp = { .n_results = 1, .results = &res };
	const char *dir = ka->b->cfg.data_dir;
	char abs[PATH_MAX], **names = NULL;
	int n_names = 0, rc = 0;
	struct statvfs sv;
	size_t pos;

	/* Kafka names a log directory by its absolute path. */
	if (realpath(dir, abs))
		dir = abs;
	res.log_dir = kstr_of(dir);
	if (!kafka_authorize_cluster(req, ACL_OP_DESCRIBE)) {
		/* KafkaApis: no directory; v3+ says why. */
		resp.n_results = 0;
		resp.error_code = PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED;
	} else if (cluster_log_dir_failure(ka->c)) {
		res.error_code = PROTO_ERR_KAFKA_STORAGE_ERROR;
	} else {
		if (statvfs(dir, &sv) == 0) {
			res.total_bytes = (int64_t)sv.f_blocks * (int64_t)sv.f_frsize;
			res.usable_bytes = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
		}
		if (dr->n_topics < 0)
			rc = broker_topic_list(ka->b, true, &names, &n_names);
		if (rc == 0)
			rc = dir_topics(ka, dr, names, n_names, &res);
	}
	if (rc == 0) {
		pos = net_req_begin(req);
		rc = proto_describe_log_dirs_resp_encode(&net_req_out(req)->w, pr->hdr.api_version,
							 &resp);
		if (rc == 0)
			rc = net_req_end(req, pos);
	}
	for (int32_t i = 0; res.topics && i < res.n_topics; i++)
		free(res.topics[i].partitions);
	free(res.topics);
	if (names)
		broker_names_free(names, n_names);
	return rc;
}

int kafka_log_dirs_register(struct kafka_api *ka, struct net_server *srv)
{
	return net_server_handle(srv, PROTO_API_DESCRIBE_LOG_DIRS, log_dirs_handler, ka);
}
