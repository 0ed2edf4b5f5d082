/*
 * test_group_serve.c — Kafka's consumer group APIs on a single node's
 * listener (repl/group_serve.c), over real sockets with requests built by
 * the codec: FindCoordinator (this broker; transactions and bad group ids
 * refused); JoinGroup/SyncGroup/Heartbeat/LeaveGroup of one member, and
 * the rebalance when a second joins (the parked JoinGroup and SyncGroup of
 * the follower answered once the leader acts); the errors of bad input
 * (unknown member, wrong generation, session timeout out of range, another
 * protocol type, metadata past the coordinator's bounds); session and
 * rebalance timeouts expiring members, a follower that never syncs, and
 * which requests start a session again; a new member's join timeout; a
 * static member replaced in CompletingRebalance and in Stable; a group
 * loaded with more members than group.max.size;
 * OffsetCommit/OffsetFetch writing and reading the same committed offsets
 * as the mount's groups (group_offset), with Kafka's per-partition errors,
 * and the -2 and -1 kafkajs's resetOffsets commits;
 * and consume files and Kafka consumers in one group: a consumer joins the
 * files' group as a follower and gets its share from the group's assignor,
 * commits only its partitions, rejoins after a file closes; a consumer
 * group of its own ends when a consume file opens, its members joining
 * the file's;
 * OffsetDelete: Empty, subscribed, unknown, and a restart;
 * the expiry of committed offsets (offsets.retention.minutes) on a fake
 * wall clock: from Empty, per commit, none while members are there, the
 * tombstones a reopen does not undo.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repl/broker_int.h"
#include "repl/config.h"
#include "repl/group_int.h"
#include "repl/group_meta.h"
#include "repl/group_serve_int.h"
#include "repl/net.h"
#include "repl/proto.h"
#include "repl/repl.h"
#include "tests/unit/brokerfx.h"
#include "util/clock.h"

#define DEADLINE_MS BROKERFX_DEADLINE_MS

static int setup(void **state)
{
	struct brokerfx *f;

	brokerfx_setup(state, "gserve", "num.partitions=2\ngroup.min.session.timeout.ms=100\n");
	f = *state;
	assert_int_equal(broker_topic_create(f->b, "t", 0, 0, 0755, NULL), 0);
	return 0;
}

/* ---- FindCoordinator ---- */

static void find_coord(struct brokerfx *f, int16_t v, int8_t type, const char *key,
		       struct proto_find_coord_resp *resp, struct net_resp *raw)
{
	struct kstr k = kstr_of(key);
	struct proto_find_coord_req req = { .key_type = type, .n_keys = 1, .keys = &k };
	struct kbuf_w w;

	kbuf_w_init(&w, 256);
	assert_int_equal(proto_find_coord_req_encode(&w, v, &req), 0);
	brokerfx_call(f->c, PROTO_API_FIND_COORDINATOR, v, &w, raw);
	assert_int_equal(proto_find_coord_resp_decode(&raw->body, v, resp), 0);
}

static void test_find_coordinator(void **state)
{
	struct brokerfx *f = *state;

	for (int16_t v = 0; v <= 4; v++) {
		struct proto_find_coord_resp r;
		struct net_resp raw;

		find_coord(f, v, PROTO_COORD_GROUP, "g", &r, &raw);
		assert_int_equal(r.n_coordinators, 1);
		assert_int_equal(r.coordinators[0].error_code, PROTO_ERR_NONE);
		assert_int_equal(r.coordinators[0].node_id, f->cfg.broker_id);
		assert_true(kstr_eq(r.coordinators[0].host, "127.0.0.1"));
		assert_int_equal(r.coordinators[0].port, f->port);
		if (v >= 4)
			assert_true(kstr_eq(r.coordinators[0].key, "g"));
		proto_find_coord_resp_free(&r);
		net_resp_free(&raw);
	}
	{
		struct proto_find_coord_resp r;
		struct net_resp raw;

		find_coord(f, 3, PROTO_COORD_TRANSACTION, "tx", &r, &raw);
		assert_int_equal(r.coordinators[0].error_code, PROTO_ERR_COORDINATOR_NOT_AVAILABLE);
		proto_find_coord_resp_free(&r);
		net_resp_free(&raw);
		/* A key type Kafka does not define: INVALID_REQUEST, as
		 * Kafka's CoordinatorType.forId refuses it (no transaction
		 * talk in its message). */
		for (int8_t type = 2; type > 0; type = type == 2 ? 127 : -1) {
			find_coord(f, 4, type, "g", &r, &raw);
			assert_int_equal(r.coordinators[0].error_code, PROTO_ERR_INVALID_REQUEST);
			assert_true(r.coordinators[0].error_message.len > 0);
			assert_null(memmem(r.coordinators[0].error_message.ptr,
					   (size_t)r.coordinators[0].error_message.len,
					   "transaction", 11));
			proto_find_coord_resp_free(&r);
			net_resp_free(&raw);
		}
		find_coord(f, 3, PROTO_COORD_GROUP, "__internal", &r, &raw);
		assert_int_equal(r.coordinators[0].error_code, PROTO_ERR_INVALID_GROUP_ID);
		proto_find_coord_resp_free(&r);
		net_resp_free(&raw);
		/* "<topic>/<group>" (the admin APIs' mount group of one
		 * topic): the group's coordinator; anything else with a '/'
		 * is no group id. */
		find_coord(f, 3, PROTO_COORD_GROUP, "a/b", &r, &raw);
		assert_int_equal(r.coordinators[0].error_code, PROTO_ERR_NONE);
		assert_int_equal(r.coordinators[0].port, f->port);
		proto_find_coord_resp_free(&r);
		net_resp_free(&raw);
		find_coord(f, 3, PROTO_COORD_GROUP, "a/b/c", &r, &raw);
		assert_int_equal(r.coordinators[0].error_code, PROTO_ERR_INVALID_GROUP_ID);
		proto_find_coord_resp_free(&r);
		net_resp_free(&raw);
		find_coord(f, 3, PROTO_COORD_GROUP, "/b", &r, &raw);
		assert_int_equal(r.coordinators[0].error_code, PROTO_ERR_INVALID_GROUP_ID);
		proto_find_coord_resp_free(&r);
		net_resp_free(&raw);
	}
}

/* ---- JoinGroup, SyncGroup, Heartbeat, LeaveGroup ---- */

/* The consumer protocol subscription of topic t (v1). */
static const uint8_t sub_t[] = { 0, 1, 0, 0, 0, 1, 0, 1, 't', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 };

struct join_out {
	int16_t error;
	int32_t generation;
	char member[256];
	char leader[256];
	char protocol[64];
	int32_t n_members;
	bool skip;     /* skip_assignment (v9+) */
	bool sub_seen; /* a member's metadata equals sub_t */
};

struct join_args {
	struct net_client *c;
	int16_t v;
	const char *group, *member, *ptype;
	const char *instance;  /* group.instance.id, NULL: none */
	const char *protos[2]; /* NULL: range, roundrobin */
	const uint8_t *meta;   /* each protocol's metadata; NULL: sub_t */
	int meta_len;
	int32_t session_ms, rebalance_ms;
	bool once; /* MEMBER_ID_REQUIRED is the answer, not joined again */
	struct join_out out;
};

static void join_once(struct join_args *a)
{
	struct kstr meta = { (const char *)(a->meta ? a->meta : sub_t),
			     a->meta ? a->meta_len : (int32_t)sizeof(sub_t) };
	struct proto_join_protocol protos[2] = {
		{ kstr_of(a->protos[0] ? a->protos[0] : "range"), meta },
		{ kstr_of(a->protos[0] ? a->protos[1] : "roundrobin"), meta },
	};
	struct proto_join_req req = { .group_id = kstr_of(a->group),
				      .session_timeout_ms = a->session_ms,
				      .rebalance_timeout_ms = a->rebalance_ms,
				      .member_id = kstr_of(a->member ? a->member : ""),
				      .group_instance_id =
					      a->instance ? kstr_of(a->instance) : KSTR_NULL,
				      .protocol_type = kstr_of(a->ptype ? a->ptype : "consumer"),
				      .n_protocols = a->protos[0] && !a->protos[1] ? 1 : 2,
				      .protocols = protos,
				      .reason = KSTR_NULL };
	struct proto_join_resp r;
	struct net_resp raw;
	struct kbuf_w w;

	kbuf_w_init(&w, 512);
	assert_int_equal(proto_join_req_encode(&w, a->v, &req), 0);
	brokerfx_call(a->c, PROTO_API_JOIN_GROUP, a->v, &w, &raw);
	assert_int_equal(proto_join_resp_decode(&raw.body, a->v, &r), 0);
	memset(&a->out, 0, sizeof(a->out));
	a->out.error = r.error_code;
	a->out.generation = r.generation_id;
	snprintf(a->out.member, sizeof(a->out.member), "%.*s", (int)r.member_id.len,
		 r.member_id.ptr);
	snprintf(a->out.leader, sizeof(a->out.leader), "%.*s", (int)r.leader.len, r.leader.ptr);
	if (r.protocol_name.len > 0)
		snprintf(a->out.protocol, sizeof(a->out.protocol), "%.*s", (int)r.protocol_name.len,
			 r.protocol_name.ptr);
	a->out.n_members = r.n_members;
	a->out.skip = r.skip_assignment;
	for (int32_t i = 0; i < r.n_members; i++)
		if (r.members[i].metadata.len == (int32_t)sizeof(sub_t) &&
		    !memcmp(r.members[i].metadata.ptr, sub_t, sizeof(sub_t)))
			a->out.sub_seen = true;
	proto_join_resp_free(&r);
	net_resp_free(&raw);
}

/* JoinGroup, and again with the member id of a MEMBER_ID_REQUIRED answer
 * (v4+ without a member id), as clients do. */
static void join_call(struct join_args *a)
{
	const char *member = a->member;
	char id[256];

	join_once(a);
	if (a->out.error != PROTO_ERR_MEMBER_ID_REQUIRED || a->once)
		return;
	assert_true(a->out.member[0] != '\0');
	snprintf(id, sizeof(id), "%s", a->out.member);
	a->member = id;
	join_once(a);
	a->member = member;
}

static void *join_thread(void *arg)
{
	join_call(arg);
	return NULL;
}

struct sync_args {
	struct net_client *c;
	int16_t v;
	const char *group, *member;
	int32_t generation;
	int n;
	const char *ids[2];
	const char *asg[2];
	int asg_len[2]; /* 0: strlen */
	int16_t error;
	char got[64];
	uint8_t raw[64]; /* the assignment's bytes */
	int raw_len;
};

static void sync_call(struct sync_args *a)
{
	struct proto_sync_assignment as[2];
	struct proto_sync_req req = { .group_id = kstr_of(a->group),
				      .generation_id = a->generation,
				      .member_id = kstr_of(a->member),
				      .group_instance_id = KSTR_NULL,
				      .protocol_type = KSTR_NULL,
				      .protocol_name = KSTR_NULL,
				      .n_assignments = a->n,
				      .assignments = as };
	struct proto_sync_resp r;
	struct net_resp raw;
	struct kbuf_w w;

	for (int i = 0; i < a->n; i++) {
		as[i].member_id = kstr_of(a->ids[i]);
		as[i].assignment = kstr_of(a->asg[i]);
		if (a->asg_len[i])
			as[i].assignment.len = a->asg_len[i];
	}
	kbuf_w_init(&w, 512);
	assert_int_equal(proto_sync_req_encode(&w, a->v, &req), 0);
	brokerfx_call(a->c, PROTO_API_SYNC_GROUP, a->v, &w, &raw);
	assert_int_equal(proto_sync_resp_decode(&raw.body, a->v, &r), 0);
	a->error = r.error_code;
	a->raw_len = r.assignment.len > 0 && r.assignment.len <= (int32_t)sizeof(a->raw)
			     ? r.assignment.len
			     : 0;
	memcpy(a->raw, r.assignment.ptr ? r.assignment.ptr : "", (size_t)a->raw_len);
	snprintf(a->got, sizeof(a->got), "%.*s", r.assignment.len > 0 ? (int)r.assignment.len : 0,
		 r.assignment.ptr ? r.assignment.ptr : "");
	net_resp_free(&raw);
}

static void *sync_thread(void *arg)
{
	sync_call(arg);
	return NULL;
}

/* Heartbeat of a static member (instance: its group.instance.id, v3+). */
static int16_t heartbeat_static(struct net_client *c, int16_t v, const char *group,
				const char *member, const char *instance, int32_t generation)
{
	struct proto_heartbeat_req req = { .group_id = kstr_of(group),
					   .generation_id = generation,
					   .member_id = kstr_of(member),
					   .group_instance_id =
						   instance ? kstr_of(instance) : KSTR_NULL };
	struct proto_heartbeat_resp r;
	struct net_resp raw;
	struct kbuf_w w;

	kbuf_w_init(&w, 256);
	assert_int_equal(proto_heartbeat_req_encode(&w, v, &req), 0);
	brokerfx_call(c, PROTO_API_HEARTBEAT, v, &w, &raw);
	assert_int_equal(proto_heartbeat_resp_decode(&raw.body, v, &r), 0);
	net_resp_free(&raw);
	return r.error_code;
}

static int16_t heartbeat(struct net_client *c, int16_t v, const char *group, const char *member,
			 int32_t generation)
{
	return heartbeat_static(c, v, group, member, NULL, generation);
}

/* LeaveGroup of one member: its id ("": none) and instance id (NULL:
 * none); its error. */
static int16_t leave_static(struct net_client *c, int16_t v, const char *group, const char *member,
			    const char *instance)
{
	struct proto_leave_member m = { .member_id = kstr_of(member),
					.group_instance_id =
						instance ? kstr_of(instance) : KSTR_NULL,
					.reason = KSTR_NULL };
	struct proto_leave_req req = { .group_id = kstr_of(group), .n_members = 1, .members = &m };
	struct proto_leave_resp r;
	struct net_resp raw;
	struct kbuf_w w;
	int16_t err;

	kbuf_w_init(&w, 256);
	assert_int_equal(proto_leave_req_encode(&w, v, &req), 0);
	brokerfx_call(c, PROTO_API_LEAVE_GROUP, v, &w, &raw);
	assert_int_equal(proto_leave_resp_decode(&raw.body, v, &r), 0);
	err = v >= 3 ? (r.n_members == 1 ? r.members[0].error_code : -2) : r.error_code;
	proto_leave_resp_free(&r);
	net_resp_free(&raw);
	return err;
}

static int16_t leave(struct net_client *c, int16_t v, const char *group, const char *member)
{
	return leave_static(c, v, group, member, NULL);
}

static bool kafka_active(struct brokerfx *f, const char *group)
{
	struct group_coord *gc = f->b->gc;
	bool on;

	pthread_mutex_lock(&gc->mu);
	on = gc->kafka_active && gc->kafka_active(gc->kafka_arg, group);
	pthread_mutex_unlock(&gc->mu);
	return on;
}

/* DescribeGroups v5 of group into *r (the caller frees it and *raw). */
static void describe_call(struct brokerfx *f, const char *group,
			  struct proto_describe_groups_resp *r, struct net_resp *raw)
{
	struct kstr k = kstr_of(group);
	struct proto_describe_groups_req req = { .n_groups = 1, .groups = &k };
	struct kbuf_w w;

	kbuf_w_init(&w, 256);
	assert_int_equal(proto_describe_groups_req_encode(&w, 5, &req), 0);
	brokerfx_call(f->c, PROTO_API_DESCRIBE_GROUPS, 5, &w, raw);
	assert_int_equal(proto_describe_groups_resp_decode(&raw->body, 5, r), 0);
	assert_int_equal(r->n_groups, 1);
	assert_int_equal(r->groups[0].error_code, PROTO_ERR_NONE);
}

/* DescribeGroups v3+ asked for the authorized operations: a group
 * answered without error lists READ, DELETE and DESCRIBE (bits 3, 6, 8:
 * 328), as a Kafka broker without an authorizer allows every operation
 * of a group; one refused, and one not asked, INT32_MIN. */
static void test_describe_authorized_operations(void **state)
{
	struct brokerfx *f = *state;
	struct kstr k[2] = { kstr_of("nog"), kstr_of("a/b/c") };
	struct proto_describe_groups_resp r;
	struct net_resp raw;
	struct kbuf_w w;

	for (int16_t v = 2; v <= 5; v++)
		for (int ask = 0; ask <= 1; ask++) {
			struct proto_describe_groups_req req = {
				.n_groups = 2, .groups = k, .include_authorized_operations = ask
			};

			kbuf_w_init(&w, 256);
			assert_int_equal(proto_describe_groups_req_encode(&w, v, &req), 0);
			brokerfx_call(f->c, PROTO_API_DESCRIBE_GROUPS, v, &w, &raw);
			assert_int_equal(proto_describe_groups_resp_decode(&raw.body, v, &r), 0);
			assert_int_equal(r.n_groups, 2);
			assert_int_equal(r.groups[0].error_code, PROTO_ERR_NONE);
			if (v >= 3)
				assert_int_equal(r.groups[0].authorized_operations,
						 ask ? 328 : INT32_MIN);
			assert_int_equal(r.groups[1].error_code, PROTO_ERR_INVALID_GROUP_ID);
			if (v >= 3)
				assert_int_equal(r.groups[1].authorized_operations, INT32_MIN);
			proto_describe_groups_resp_free(&r);
			net_resp_free(&raw);
		}
}

/* DescribeGroups v5 of group, one member: its client id and host into
 * cid and host. */
static void describe_member(struct brokerfx *f, const char *group, char *cid, char *host,
			    size_t cap)
{
	struct proto_describe_groups_resp r;
	struct net_resp raw;

	describe_call(f, group, &r, &raw);
	assert_int_equal(r.groups[0].n_members, 1);
	snprintf(cid, cap, "%.*s", (int)r.groups[0].members[0].client_id.len,
		 r.groups[0].members[0].client_id.ptr);
	snprintf(host, cap, "%.*s", (int)r.groups[0].members[0].client_host.len,
		 r.groups[0].members[0].client_host.ptr);
	proto_describe_groups_resp_free(&r);
	net_resp_free(&raw);
}

/* DescribeGroups v5 of group: "state 'ptype' 'proto' members" into out. */
static void describe_line(struct brokerfx *f, const char *group, char *out, size_t cap)
{
	struct proto_describe_groups_resp r;
	struct net_resp raw;

	describe_call(f, group, &r, &raw);
	snprintf(out, cap, "%.*s '%.*s' '%.*s' %d", (int)r.groups[0].group_state.len,
		 r.groups[0].group_state.ptr, (int)r.groups[0].protocol_type.len,
		 r.groups[0].protocol_type.ptr, (int)r.groups[0].protocol_data.len,
		 r.groups[0].protocol_data.ptr, (int)r.groups[0].n_members);
	proto_describe_groups_resp_free(&r);
	net_resp_free(&raw);
}

static bool has_prefix_suffix(const char *s, const char *pre, const char *suf)
{
	size_t n = strlen(s), k = strlen(suf);

	return !strncmp(s, pre, strlen(pre)) && n >= k && !strcmp(s + n - k, suf);
}

/* Members of group name whose JoinGroup is parked, under gs->mu. */
static int joins_parked(struct group_serve *gs, const char *name)
{
	struct kgroup *g;
	int n = 0;

	pthread_mutex_lock(&gs->mu);
	g = kg_find(gs, name);
	for (struct kmember *m = g ? g->members : NULL; m; m = m->next)
		n += m->join != NULL;
	pthread_mutex_unlock(&gs->mu);
	return n;
}

/* Polls until n JoinGroups of group name are parked. */
static void joins_parked_until(struct group_serve *gs, const char *name, int n)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (joins_parked(gs, name) != n && now_mono_ms() < end)
		usleep(10000);
	assert_int_equal(joins_parked(gs, name), n);
}

static int npending(struct group_serve *gs)
{
	int n;

	pthread_mutex_lock(&gs->mu);
	n = gs->npending;
	pthread_mutex_unlock(&gs->mu);
	return n;
}

/* DeleteGroups v2 of one group: its error. */
static int16_t delete_group(struct brokerfx *f, const char *group)
{
	struct kstr k = kstr_of(group);
	struct proto_delete_groups_req req = { .n_groups = 1, .groups_names = &k };
	struct net_resp raw;
	struct kbuf_w w;

	kbuf_w_init(&w, 256);
	assert_int_equal(proto_delete_groups_req_encode(&w, 2, &req), 0);
	brokerfx_call(f->c, PROTO_API_DELETE_GROUPS, 2, &w, &raw);
	return brokerfx_delete_groups_error(&raw);
}

static void test_one_member(void **state)
{
	struct brokerfx *f = *state;
	struct join_args j = {
		.c = f->c, .v = 5, .group = "g", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct sync_args s = { .c = f->c, .v = 3, .group = "g", .n = 1 };

	join_call(&j);
	assert_int_equal(j.out.error, PROTO_ERR_NONE);
	assert_int_equal(j.out.generation, 1);
	assert_string_equal(j.out.leader, j.out.member);
	assert_string_equal(j.out.protocol, "range");
	assert_int_equal(j.out.n_members, 1);
	assert_true(j.out.sub_seen);
	assert_true(kafka_active(f, "g"));

	s.member = j.out.member;
	s.generation = 1;
	s.ids[0] = j.out.member;
	s.asg[0] = "my-assignment";
	sync_call(&s);
	assert_int_equal(s.error, PROTO_ERR_NONE);
	assert_string_equal(s.got, "my-assignment");
	/* Asked again while stable: the same. */
	s.n = 0;
	sync_call(&s);
	assert_string_equal(s.got, "my-assignment");
	/* DescribeGroups names the member by the client.id of its JoinGroup
	 * and its address, as Kafka (kafka-consumer-groups.sh --members
	 * shows them), not by empty strings. */
	{
		char cid[300], host[300];

		describe_member(f, "g", cid, host, sizeof(cid));
		assert_string_equal(cid, "mqfs");
		assert_string_equal(host, "/127.0.0.1");
	}

	for (int16_t v = 0; v <= 4; v++)
		assert_int_equal(heartbeat(f->c, v, "g", j.out.member, 1), PROTO_ERR_NONE);
	assert_int_equal(heartbeat(f->c, 3, "g", j.out.member, 7), PROTO_ERR_ILLEGAL_GENERATION);
	assert_int_equal(heartbeat(f->c, 3, "g", "stranger", 1), PROTO_ERR_UNKNOWN_MEMBER_ID);
	assert_int_equal(heartbeat(f->c, 3, "nogroup", "stranger", 1), PROTO_ERR_UNKNOWN_MEMBER_ID);
	s.generation = 0;
	sync_call(&s);
	assert_int_equal(s.error, PROTO_ERR_ILLEGAL_GENERATION);

	/* Bad joins, each answered at once with Kafka's error. */
	{
		struct join_args bad = j;
		struct net_client *c2 = brokerfx_connect(f);

		bad.c = c2;
		bad.member = "nope";
		join_call(&bad);
		assert_int_equal(bad.out.error, PROTO_ERR_UNKNOWN_MEMBER_ID);
		bad.member = NULL;
		bad.session_ms = 50;
		join_call(&bad);
		assert_int_equal(bad.out.error, PROTO_ERR_INVALID_SESSION_TIMEOUT);
		bad.session_ms = 10000;
		bad.ptype = "connect";
		join_call(&bad);
		assert_int_equal(bad.out.error, PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL);
		bad.ptype = NULL;
		bad.group = ".hidden";
		join_call(&bad);
		assert_int_equal(bad.out.error, PROTO_ERR_INVALID_GROUP_ID);
		/* v0-v9 all decode and answer. */
		for (int16_t v = 0; v <= 9; v++) {
			bad.v = v;
			bad.group = "g";
			bad.member = "nope";
			join_call(&bad);
			assert_int_equal(bad.out.error, PROTO_ERR_UNKNOWN_MEMBER_ID);
		}
		net_client_close(c2);
	}

	assert_int_equal(leave(f->c, 1, "g", "stranger"), PROTO_ERR_UNKNOWN_MEMBER_ID);
	assert_int_equal(leave(f->c, 4, "g", j.out.member), PROTO_ERR_NONE);
	assert_false(kafka_active(f, "g"));
	assert_int_equal(heartbeat(f->c, 3, "g", j.out.member, 1), PROTO_ERR_UNKNOWN_MEMBER_ID);
}

/* Polls Heartbeat until it answers want (the server got another member's
 * request meanwhile). */
static void heartbeat_until(struct net_client *c, const char *group, const char *member,
			    int32_t gen, int16_t want)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;
	int16_t got;

	while ((got = heartbeat(c, 3, group, member, gen)) != want && now_mono_ms() < end)
		usleep(10000);
	assert_int_equal(got, want);
}

static void test_rebalance(void **state)
{
	struct brokerfx *f = *state;
	struct net_client *c2 = brokerfx_connect(f);
	struct join_args a = {
		.c = f->c, .v = 7, .group = "g", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct join_args b = {
		.c = c2, .v = 2, .group = "g", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct sync_args sa = { .c = f->c, .v = 5, .group = "g", .n = 1 };
	struct sync_args sb = { .c = c2, .v = 0, .group = "g" };
	pthread_t th;

	join_call(&a);
	assert_int_equal(a.out.generation, 1);
	sa.member = a.out.member;
	sa.generation = 1;
	sa.ids[0] = a.out.member;
	sa.asg[0] = "p0p1";
	sync_call(&sa);
	assert_string_equal(sa.got, "p0p1");

	/* B joins: parked until A rejoins; A learns of it by Heartbeat. */
	assert_int_equal(pthread_create(&th, NULL, join_thread, &b), 0);
	heartbeat_until(f->c, "g", a.out.member, 1, PROTO_ERR_REBALANCE_IN_PROGRESS);
	a.member = a.out.member;
	join_call(&a);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	assert_int_equal(b.out.error, PROTO_ERR_NONE);
	assert_int_equal(a.out.generation, 2);
	assert_int_equal(b.out.generation, 2);
	assert_string_equal(a.out.leader, a.out.member); /* the leader stays */
	assert_string_equal(b.out.leader, a.out.member);
	assert_int_equal(a.out.n_members, 2);
	assert_int_equal(b.out.n_members, 0);
	assert_string_not_equal(a.out.member, b.out.member);

	/* Heartbeats during CompletingRebalance: NONE, as Kafka answers a
	 * member syncing this generation (no rejoin asked); an older
	 * generation's is ILLEGAL_GENERATION. */
	assert_int_equal(heartbeat(f->c, 3, "g", a.out.member, 2), PROTO_ERR_NONE);
	assert_int_equal(heartbeat(c2, 0, "g", b.out.member, 2), PROTO_ERR_NONE);
	assert_int_equal(heartbeat(f->c, 3, "g", a.out.member, 1), PROTO_ERR_ILLEGAL_GENERATION);
	/* A JoinGroup again with the same protocols (a lost answer) gets
	 * this generation as it is, the leader its members too, as Kafka
	 * answers in CompletingRebalance: no new rebalance. */
	b.member = b.out.member;
	join_call(&b);
	assert_int_equal(b.out.error, PROTO_ERR_NONE);
	assert_int_equal(b.out.generation, 2);
	assert_int_equal(b.out.n_members, 0);
	join_call(&a);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	assert_int_equal(a.out.generation, 2);
	assert_int_equal(a.out.n_members, 2);
	assert_int_equal(heartbeat(c2, 0, "g", b.out.member, 2), PROTO_ERR_NONE);
	/* B's SyncGroup waits for the leader's. */
	sb.member = b.out.member;
	sb.generation = 2;
	assert_int_equal(pthread_create(&th, NULL, sync_thread, &sb), 0);
	sa.generation = 2;
	sa.n = 2;
	sa.ids[0] = a.out.member;
	sa.asg[0] = "p0";
	sa.ids[1] = b.out.member;
	sa.asg[1] = "p1";
	sync_call(&sa);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_string_equal(sa.got, "p0");
	assert_int_equal(sb.error, PROTO_ERR_NONE);
	assert_string_equal(sb.got, "p1");
	assert_int_equal(heartbeat(f->c, 3, "g", a.out.member, 2), PROTO_ERR_NONE);
	/* Stable: a follower's JoinGroup with the same protocols gets the
	 * generation, and its SyncGroup its assignment, without a
	 * rebalance; the leader's would rebalance (below, B's leave). */
	join_call(&b);
	assert_int_equal(b.out.error, PROTO_ERR_NONE);
	assert_int_equal(b.out.generation, 2);
	sync_call(&sb);
	assert_int_equal(sb.error, PROTO_ERR_NONE);
	assert_string_equal(sb.got, "p1");
	assert_int_equal(heartbeat(f->c, 3, "g", a.out.member, 2), PROTO_ERR_NONE);

	/* B leaves: A is told to rejoin and is alone in generation 3. */
	assert_int_equal(leave(c2, 0, "g", b.out.member), PROTO_ERR_NONE);
	assert_int_equal(heartbeat(f->c, 3, "g", a.out.member, 2), PROTO_ERR_REBALANCE_IN_PROGRESS);
	join_call(&a);
	assert_int_equal(a.out.generation, 3);
	assert_int_equal(a.out.n_members, 1);
	net_client_close(c2);
}

/* The protocol is one every member offers: the first member's first
 * choice alone, then the one both offer. */
static void test_protocol_choice(void **state)
{
	struct brokerfx *f = *state;
	struct net_client *c2 = brokerfx_connect(f);
	struct join_args a = { .c = f->c,
			       .v = 5,
			       .group = "g",
			       .session_ms = 10000,
			       .rebalance_ms = 10000,
			       .protos = { "roundrobin", "range" } };
	struct join_args b = { .c = c2,
			       .v = 5,
			       .group = "g",
			       .session_ms = 10000,
			       .rebalance_ms = 10000,
			       .protos = { "range", NULL } };
	struct join_args c = b;
	struct sync_args sa = { .c = f->c, .v = 3, .group = "g" };
	pthread_t th;

	join_call(&a);
	assert_string_equal(a.out.protocol, "roundrobin");
	/* Stable, so that only B's join makes the Heartbeat below answer
	 * REBALANCE_IN_PROGRESS. */
	sa.member = a.out.member;
	sa.generation = a.out.generation;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	c.protos[0] = "sticky";
	join_call(&c);
	assert_int_equal(c.out.error, PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL);
	assert_int_equal(pthread_create(&th, NULL, join_thread, &b), 0);
	heartbeat_until(f->c, "g", a.out.member, 1, PROTO_ERR_REBALANCE_IN_PROGRESS);
	a.member = a.out.member;
	join_call(&a);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_string_equal(a.out.protocol, "range");
	assert_string_equal(b.out.protocol, "range");
	net_client_close(c2);
}

static void test_timeouts(void **state)
{
	struct brokerfx *f = *state;
	struct net_client *c2 = brokerfx_connect(f);
	struct join_args a = {
		.c = f->c, .v = 5, .group = "s", .session_ms = 2000, .rebalance_ms = 10000
	};
	struct join_args b = {
		.c = c2, .v = 5, .group = "s", .session_ms = 10000, .rebalance_ms = 300
	};
	struct sync_args sa = { .c = f->c, .v = 3, .group = "s", .n = 0 };
	int64_t end;

	/* A member silent for its session timeout is removed. */
	join_call(&a);
	sa.member = a.out.member;
	sa.generation = a.out.generation;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	end = now_mono_ms() + DEADLINE_MS;
	while (kafka_active(f, "s") && now_mono_ms() < end)
		usleep(10000);
	assert_false(kafka_active(f, "s"));
	assert_int_equal(heartbeat(f->c, 3, "s", a.out.member, a.out.generation),
			 PROTO_ERR_UNKNOWN_MEMBER_ID);

	/* A member that does not rejoin within the rebalance timeout is
	 * dropped, and the rebalance completes without it. (The timeouts
	 * leave a loaded machine 2 s between a test's two requests.) */
	a.session_ms = 10000;
	a.rebalance_ms = 2000;
	join_call(&a);
	sa.member = a.out.member;
	sa.generation = a.out.generation;
	sync_call(&sa);
	join_call(&b); /* returns once the rebalance timeout has passed */
	assert_int_equal(b.out.error, PROTO_ERR_NONE);
	assert_string_equal(b.out.leader, b.out.member);
	assert_int_equal(b.out.n_members, 1);
	assert_int_equal(heartbeat(f->c, 3, "s", a.out.member, a.out.generation),
			 PROTO_ERR_UNKNOWN_MEMBER_ID);
	net_client_close(c2);
}

/* Waits until the group timer sleeps longer than its old tick of a
 * second: to the offsets cleanup, nothing else being due. */
static void timer_asleep_long(struct group_serve *gs)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (atomic_load(&gs->sleep_ms) <= KG_TICK_MAX_MS && now_mono_ms() < end)
		usleep(10000);
	assert_true(atomic_load(&gs->sleep_ms) > KG_TICK_MAX_MS);
}

/* With nothing due, the group timer sleeps to its next deadline, the
 * offsets cleanup (offsets.retention.check.interval.ms), not a second
 * at a time; a member that joins meanwhile wakes it to its own: its
 * session still ends on time, and the timer sleeps long again after.
 * (JoinGroup v3: no MEMBER_ID_REQUIRED, whose pending member would wake
 * the timer at the same deadline; the rebalance timeout, the other one
 * ahead, is past the test's deadline.) */
static void test_timer_sleeps_to_deadline(void **state)
{
	struct brokerfx *f = *state;
	struct group_serve *gs = f->b->gc->kafka_arg;
	struct join_args a = {
		.c = f->c, .v = 3, .group = "z", .session_ms = 500, .rebalance_ms = 60000
	};
	struct sync_args sa = { .c = f->c, .v = 3, .group = "z", .n = 0 };
	int64_t end;

	timer_asleep_long(gs);
	join_call(&a);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	sa.member = a.out.member;
	sa.generation = a.out.generation;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	end = now_mono_ms() + DEADLINE_MS;
	while (kafka_active(f, "z") && now_mono_ms() < end)
		usleep(10000);
	assert_false(kafka_active(f, "z"));
	timer_asleep_long(gs);
}

/* A static member (group.instance.id) that does not rejoin within the
 * rebalance timeout (a consumer busy past it) stays in the group, as
 * Kafka's onCompleteJoin keeps it: the new generation has it, with its
 * protocols, so the leader (a member that rejoined) assigns it its share;
 * back, its heartbeat hears ILLEGAL_GENERATION and its JoinGroup gets the
 * generation as it is, without another rebalance. A dynamic member in its
 * place is removed (test_timeouts). */
static void test_static_member_slow(void **state)
{
	struct brokerfx *f = *state;
	struct net_client *c2 = brokerfx_connect(f);
	struct join_args a = { .c = f->c,
			       .v = 5,
			       .group = "slow",
			       .instance = "inst-s",
			       .session_ms = 30000,
			       .rebalance_ms = 2000 };
	struct join_args b = {
		.c = c2, .v = 5, .group = "slow", .session_ms = 30000, .rebalance_ms = 2000
	};
	struct sync_args sa = { .c = f->c, .v = 3, .group = "slow", .n = 0 };
	struct sync_args sb = { .c = c2, .v = 3, .group = "slow", .n = 2 };
	char am[256];

	join_call(&a);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	snprintf(am, sizeof(am), "%s", a.out.member);
	sa.member = am;
	sa.generation = a.out.generation;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);

	/* b joins; a does not rejoin: the rebalance ends at its timeout with
	 * both, b leading. */
	join_call(&b); /* returns once the rebalance timeout has passed */
	assert_int_equal(b.out.error, PROTO_ERR_NONE);
	assert_string_equal(b.out.leader, b.out.member);
	assert_int_equal(b.out.n_members, 2);
	assert_int_equal(b.out.generation, a.out.generation + 1);
	sb.member = sb.ids[0] = b.out.member;
	sb.ids[1] = am;
	sb.asg[0] = "b";
	sb.asg[1] = "a";
	sb.generation = b.out.generation;
	sync_call(&sb);
	assert_int_equal(sb.error, PROTO_ERR_NONE);
	assert_string_equal(sb.got, "b");

	/* a is back: still a member, of an older generation. */
	assert_int_equal(heartbeat_static(f->c, 4, "slow", am, "inst-s", a.out.generation),
			 PROTO_ERR_ILLEGAL_GENERATION);
	a.member = am;
	join_call(&a);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	assert_string_equal(a.out.member, am);
	assert_int_equal(a.out.generation, b.out.generation);
	assert_string_equal(a.out.leader, b.out.member);
	sa.generation = a.out.generation;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	assert_string_equal(sa.got, "a");
	assert_int_equal(heartbeat(c2, 3, "slow", b.out.member, b.out.generation), PROTO_ERR_NONE);
	net_client_close(c2);
}

/* What the coordinator holds is bounded: a member whose protocol metadata
 * would take the group past 512 KiB is refused GROUP_MAX_SIZE_REACHED. */
static void test_limits(void **state)
{
	struct brokerfx *f = *state;
	size_t big = 600 * 1024;
	char *meta = calloc(1, big);
	struct proto_join_protocol proto = { kstr_of("range"), { meta, (int32_t)big } };
	struct proto_join_req req = { .group_id = kstr_of("big"),
				      .session_timeout_ms = 10000,
				      .rebalance_timeout_ms = 10000,
				      .member_id = kstr_of(""),
				      .group_instance_id = KSTR_NULL,
				      .protocol_type = kstr_of("consumer"),
				      .n_protocols = 1,
				      .protocols = &proto,
				      .reason = KSTR_NULL };
	struct proto_join_resp r;
	struct net_resp raw;
	struct kbuf_w w;

	assert_non_null(meta);
	kbuf_w_init(&w, big + 1024);
	assert_int_equal(proto_join_req_encode(&w, 5, &req), 0);
	brokerfx_call(f->c, PROTO_API_JOIN_GROUP, 5, &w, &raw);
	assert_int_equal(proto_join_resp_decode(&raw.body, 5, &r), 0);
	assert_int_equal(r.error_code, PROTO_ERR_GROUP_MAX_SIZE_REACHED);
	proto_join_resp_free(&r);
	net_resp_free(&raw);
	assert_false(kafka_active(f, "big"));
	free(meta);
}

/* A static member (group.instance.id) that joins again with no member id,
 * as a restarted client does (it sent no LeaveGroup): its old member is
 * replaced at once, not waited for until the rebalance timeout (60 s
 * here, past the call's deadline), and the old member id is no longer
 * one of the group's. */
static void test_static_member_replaced(void **state)
{
	struct brokerfx *f = *state;
	struct join_args j = { .c = f->c,
			       .v = 5,
			       .group = "st",
			       .instance = "inst-1",
			       .session_ms = 30000,
			       .rebalance_ms = 60000 };
	struct sync_args s = { .c = f->c, .v = 3, .group = "st", .n = 1 };
	char old[256];

	join_call(&j);
	assert_int_equal(j.out.error, PROTO_ERR_NONE);
	snprintf(old, sizeof(old), "%s", j.out.member);
	s.member = s.ids[0] = old;
	s.generation = j.out.generation;
	s.asg[0] = "a";
	sync_call(&s);
	assert_int_equal(s.error, PROTO_ERR_NONE);

	/* The group is Stable and its protocol stays: the new member takes
	 * the old one's place whole, without a rebalance (Kafka's
	 * updateStaticMemberAndRebalance): the same generation, the
	 * leadership, and at its SyncGroup the assignment it had. Its
	 * JoinGroup (v5, before skip_assignment) names the old leader and
	 * no members, so that it runs no assignor. */
	join_call(&j);
	assert_int_equal(j.out.error, PROTO_ERR_NONE);
	assert_int_equal(j.out.n_members, 0);
	assert_string_not_equal(j.out.member, old);
	assert_string_equal(j.out.leader, old);
	assert_false(j.out.skip);
	assert_int_equal(j.out.generation, s.generation);
	assert_int_equal(heartbeat(f->c, 4, "st", old, j.out.generation),
			 PROTO_ERR_UNKNOWN_MEMBER_ID);
	/* The old client, still running, names its instance: fenced, as
	 * Kafka fences it, so that it stops rather than join again and
	 * replace the new one in turn. The new member goes on. */
	assert_int_equal(heartbeat_static(f->c, 4, "st", old, "inst-1", j.out.generation),
			 PROTO_ERR_FENCED_INSTANCE_ID);
	assert_int_equal(heartbeat_static(f->c, 4, "st", j.out.member, "inst-1", j.out.generation),
			 PROTO_ERR_NONE);
	/* So is its JoinGroup with its old member id (it rejoins after a
	 * REBALANCE_IN_PROGRESS it got before it was replaced): were it told
	 * UNKNOWN_MEMBER_ID, it would join without one and replace the new
	 * member, which would do the same in turn. */
	{
		struct join_args o = j;

		o.member = old;
		join_call(&o);
		assert_int_equal(o.out.error, PROTO_ERR_FENCED_INSTANCE_ID);
	}
	assert_int_equal(heartbeat_static(f->c, 4, "st", j.out.member, "inst-1", j.out.generation),
			 PROTO_ERR_NONE);
	s.member = j.out.member;
	s.n = 0;
	sync_call(&s);
	assert_int_equal(s.error, PROTO_ERR_NONE);
	assert_string_equal(s.got, "a");

	/* LeaveGroup (v3+) as Kafka's: the replaced client's, naming its
	 * old member id and the instance, is fenced and removes nothing;
	 * an admin's, naming the instance alone, removes its member now
	 * (no wait for the session timeout), and a second one finds none. */
	assert_int_equal(leave_static(f->c, 4, "st", old, "inst-1"), PROTO_ERR_FENCED_INSTANCE_ID);
	assert_int_equal(heartbeat_static(f->c, 4, "st", j.out.member, "inst-1", j.out.generation),
			 PROTO_ERR_NONE);
	{
		struct join_args k = { .c = f->c,
				       .v = 5,
				       .group = "st2",
				       .instance = "inst-2",
				       .session_ms = 30000,
				       .rebalance_ms = 60000 };

		join_call(&k);
		assert_int_equal(k.out.error, PROTO_ERR_NONE);
		assert_int_equal(leave_static(f->c, 3, "st2", "", "inst-2"), PROTO_ERR_NONE);
		assert_int_equal(
			heartbeat_static(f->c, 4, "st2", k.out.member, "inst-2", k.out.generation),
			PROTO_ERR_UNKNOWN_MEMBER_ID);
		assert_int_equal(leave_static(f->c, 3, "st2", "", "inst-2"),
				 PROTO_ERR_UNKNOWN_MEMBER_ID);
	}

	/* JoinGroup v9: the new member is told that it leads, with the
	 * member list and skip_assignment (KIP-814): it runs no assignor,
	 * the Stable group's assignment stands. */
	snprintf(old, sizeof(old), "%s", j.out.member);
	j.v = 9;
	join_call(&j);
	assert_int_equal(j.out.error, PROTO_ERR_NONE);
	assert_string_not_equal(j.out.member, old);
	assert_int_equal(j.out.generation, s.generation);
	assert_string_equal(j.out.leader, j.out.member);
	assert_int_equal(j.out.n_members, 1);
	assert_true(j.out.skip);
	s.member = j.out.member;
	sync_call(&s);
	assert_int_equal(s.error, PROTO_ERR_NONE);
	assert_string_equal(s.got, "a");
	j.v = 5;

	/* Its protocol changes the group's choice: a rebalance, the next
	 * generation. */
	snprintf(old, sizeof(old), "%s", j.out.member);
	j.protos[0] = "roundrobin"; /* first choice now: the vote changes */
	j.protos[1] = "range";
	join_call(&j);
	assert_int_equal(j.out.error, PROTO_ERR_NONE);
	assert_string_not_equal(j.out.member, old);
	assert_int_equal(j.out.generation, s.generation + 1);
	assert_int_equal(leave(f->c, 3, "st", j.out.member), PROTO_ERR_NONE);
}

/* ---- OffsetCommit, OffsetFetch ---- */

struct commit_part {
	const char *topic;
	int32_t partition;
	int64_t offset;
};

/* Commits parts (one topic entry each) and returns their error codes. */
static void commit(struct brokerfx *f, int16_t v, const char *group, int32_t gen,
		   const char *member, const struct commit_part *parts, int n, int16_t *errs)
{
	struct proto_offset_commit_topic t[8];
	struct proto_offset_commit_part p[8];
	struct proto_offset_commit_req req = { .group_id = kstr_of(group),
					       .generation_id = gen,
					       .member_id = kstr_of(member),
					       .group_instance_id = KSTR_NULL,
					       .retention_time_ms = -1,
					       .n_topics = n,
					       .topics = t };
	struct proto_offset_commit_resp r;
	struct net_resp raw;
	struct kbuf_w w;

	for (int i = 0; i < n; i++) {
		p[i] = (struct proto_offset_commit_part){ .partition_index = parts[i].partition,
							  .committed_offset = parts[i].offset,
							  .committed_leader_epoch = -1,
							  .commit_timestamp = -1,
							  .committed_metadata = kstr_of("") };
		t[i] = (struct proto_offset_commit_topic){ .name = kstr_of(parts[i].topic),
							   .n_partitions = 1,
							   .partitions = &p[i] };
	}
	kbuf_w_init(&w, 1024);
	assert_int_equal(proto_offset_commit_req_encode(&w, v, &req), 0);
	brokerfx_call(f->c, PROTO_API_OFFSET_COMMIT, v, &w, &raw);
	assert_int_equal(proto_offset_commit_resp_decode(&raw.body, v, &r), 0);
	assert_int_equal(r.n_topics, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(r.topics[i].n_partitions, 1);
		errs[i] = r.topics[i].partitions[0].error_code;
	}
	proto_offset_commit_resp_free(&r);
	net_resp_free(&raw);
}

/* An offset not in an OffsetFetch answer. */
#define NOT_LISTED INT64_MIN

/* OffsetFetch of group (topics "t" and "u", partitions 0 and 1: asked,
 * the topic named by ask; every committed one when ask is NULL) into
 * offs[topic][partition] (t 0, u 1; NOT_LISTED for one not in the
 * answer), and their committed leader epochs into epochs (NULL: not
 * wanted; INT32_MIN for one not in the answer); the group's error code
 * (v0/v1: its partitions'). */
static int16_t fetch_epochs(struct brokerfx *f, int16_t v, const char *group, const char *ask,
			    int64_t offs[2][2], int32_t epochs[2][2])
{
	int32_t idx[2] = { 0, 1 };
	struct proto_offset_fetch_topic t = { .name = kstr_of(ask ? ask : ""),
					      .n_partition_indexes = 2,
					      .partition_indexes = idx };
	struct proto_offset_fetch_group g = { .group_id = kstr_of(group),
					      .n_topics = ask ? 1 : -1,
					      .topics = ask ? &t : NULL };
	struct proto_offset_fetch_req req = { .n_groups = 1, .groups = &g };
	struct proto_offset_fetch_resp r;
	struct net_resp raw;
	struct kbuf_w w;
	int16_t err;

	for (int i = 0; i < 4; i++) {
		offs[i / 2][i % 2] = NOT_LISTED;
		if (epochs)
			epochs[i / 2][i % 2] = INT32_MIN;
	}
	kbuf_w_init(&w, 512);
	assert_int_equal(proto_offset_fetch_req_encode(&w, v, &req), 0);
	brokerfx_call(f->c, PROTO_API_OFFSET_FETCH, v, &w, &raw);
	assert_int_equal(proto_offset_fetch_resp_decode(&raw.body, v, &r), 0);
	assert_int_equal(r.n_groups, 1);
	err = r.groups[0].error_code;
	for (int32_t i = 0; i < r.groups[0].n_topics; i++) {
		const struct proto_offset_fetch_resp_topic *rt = &r.groups[0].topics[i];
		int ti = kstr_eq(rt->name, "u");

		assert_true(ti || kstr_eq(rt->name, "t"));
		for (int32_t k = 0; k < rt->n_partitions; k++) {
			int16_t pe = rt->partitions[k].error_code;

			/* v0/v1: a group's error on each partition */
			if (pe != PROTO_ERR_NONE) {
				assert_true(v < 2);
				assert_true(err == PROTO_ERR_NONE || err == pe);
				err = pe;
			}
			assert_in_range(rt->partitions[k].partition_index, 0, 1);
			offs[ti][rt->partitions[k].partition_index] =
				rt->partitions[k].committed_offset;
			if (epochs)
				epochs[ti][rt->partitions[k].partition_index] =
					rt->partitions[k].committed_leader_epoch;
		}
	}
	proto_offset_fetch_resp_free(&r);
	net_resp_free(&raw);
	return err;
}

static int16_t fetch_of(struct brokerfx *f, int16_t v, const char *group, const char *ask,
			int64_t offs[2][2])
{
	return fetch_epochs(f, v, group, ask, offs, NULL);
}

/* OffsetFetch of group: topic t's partitions 0 and 1, or every committed
 * one (all; t's alone); offsets into offs[partition], NOT_LISTED for one
 * not in the answer. */
static void fetch_offsets(struct brokerfx *f, int16_t v, const char *group, bool all,
			  int64_t offs[2])
{
	int64_t o[2][2];

	assert_int_equal(fetch_of(f, v, group, all ? NULL : "t", o), PROTO_ERR_NONE);
	assert_int_equal(o[1][0], NOT_LISTED); /* topic t's alone */
	assert_int_equal(o[1][1], NOT_LISTED);
	offs[0] = o[0][0];
	offs[1] = o[0][1];
}

static int64_t mount_offset(struct brokerfx *f, const char *group, int p)
{
	struct topic *t;
	struct group *g;
	int64_t off = -1;

	assert_int_equal(broker_topic_get(f->b, "t", &t), 0);
	assert_int_equal(group_open(t, group, 0, &g), 0);
	assert_int_equal(group_offset(g, p, &off), 0);
	group_put(g);
	topic_put(t);
	return off;
}

/* echo v > .groups/<group>/<p> of topic t: group_offset_reset's rc. */
static int mount_reset(struct brokerfx *f, const char *group, int p, const char *v)
{
	struct topic *t;
	struct group *g;
	int rc;

	assert_int_equal(broker_topic_get(f->b, "t", &t), 0);
	assert_int_equal(group_open(t, group, 0, &g), 0);
	rc = group_offset_reset(g, p, v, strlen(v));
	group_put(g);
	topic_put(t);
	return rc;
}

/* Partition p's commit of topic (t when NULL) by a version v OffsetCommit
 * outside any generation, with v2-v4's retention_time_ms: its error
 * code. */
static int16_t commit_one(struct brokerfx *f, int16_t v, const char *group, const char *topic,
			  struct proto_offset_commit_part p, int64_t retention_ms)
{
	size_t mdlen = p.committed_metadata.len > 0 ? (size_t)p.committed_metadata.len : 0;
	struct proto_offset_commit_topic t = { .name = kstr_of(topic ? topic : "t"),
					       .n_partitions = 1,
					       .partitions = &p };
	struct proto_offset_commit_req req = { .group_id = kstr_of(group),
					       .generation_id = -1,
					       .member_id = kstr_of(""),
					       .group_instance_id = KSTR_NULL,
					       .retention_time_ms = retention_ms,
					       .n_topics = 1,
					       .topics = &t };
	struct proto_offset_commit_resp r;
	struct net_resp raw;
	struct kbuf_w w;
	int16_t err;

	kbuf_w_init(&w, 1024 + mdlen);
	assert_int_equal(proto_offset_commit_req_encode(&w, v, &req), 0);
	brokerfx_call(f->c, PROTO_API_OFFSET_COMMIT, v, &w, &raw);
	assert_int_equal(proto_offset_commit_resp_decode(&raw.body, v, &r), 0);
	assert_int_equal(r.n_topics, 1);
	assert_int_equal(r.topics[0].n_partitions, 1);
	err = r.topics[0].partitions[0].error_code;
	proto_offset_commit_resp_free(&r);
	net_resp_free(&raw);
	return err;
}

/* One partition's commit of topic t by a version v OffsetCommit outside
 * any generation, with its metadata (md, mdlen bytes; NULL: null), v1's
 * commit_timestamp and v2-v4's retention_time_ms: its error code. */
static int16_t commit_md(struct brokerfx *f, int16_t v, const char *group, int32_t part,
			 int64_t off, const char *md, size_t mdlen, int64_t commit_ts,
			 int64_t retention_ms)
{
	struct proto_offset_commit_part p = { .partition_index = part,
					      .committed_offset = off,
					      .committed_leader_epoch = -1,
					      .commit_timestamp = commit_ts,
					      .committed_metadata = { md,
								      md ? (int32_t)mdlen : -1 } };

	return commit_one(f, v, group, NULL, p, retention_ms);
}

/* One partition's commit of topic by a version v OffsetCommit outside any
 * generation with committed_leader_epoch epoch: its error code. */
static int16_t commit_epoch(struct brokerfx *f, int16_t v, const char *group, const char *topic,
			    int32_t part, int64_t off, int32_t epoch)
{
	struct proto_offset_commit_part p = { .partition_index = part,
					      .committed_offset = off,
					      .committed_leader_epoch = epoch,
					      .commit_timestamp = -1,
					      .committed_metadata = KSTR_NULL };

	return commit_one(f, v, group, topic, p, -1);
}

/* OffsetFetch (version v) of group's partition part of topic t: its
 * offset, and its metadata into md (cap bytes, *mdlen of them; a null
 * one is "(null)"). */
static int64_t fetch_md(struct brokerfx *f, int16_t v, const char *group, int32_t part, char *md,
			size_t cap, size_t *mdlen)
{
	struct proto_offset_fetch_topic t = { .name = kstr_of("t"),
					      .n_partition_indexes = 1,
					      .partition_indexes = &part };
	struct proto_offset_fetch_group g = { .group_id = kstr_of(group),
					      .n_topics = 1,
					      .topics = &t };
	struct proto_offset_fetch_req req = { .n_groups = 1, .groups = &g };
	struct proto_offset_fetch_resp r;
	const struct proto_offset_fetch_resp_part *rp;
	struct net_resp raw;
	struct kbuf_w w;
	int64_t off;

	kbuf_w_init(&w, 512);
	assert_int_equal(proto_offset_fetch_req_encode(&w, v, &req), 0);
	brokerfx_call(f->c, PROTO_API_OFFSET_FETCH, v, &w, &raw);
	assert_int_equal(proto_offset_fetch_resp_decode(&raw.body, v, &r), 0);
	assert_int_equal(r.n_groups, 1);
	assert_int_equal(r.groups[0].n_topics, 1);
	assert_int_equal(r.groups[0].topics[0].n_partitions, 1);
	rp = &r.groups[0].topics[0].partitions[0];
	assert_int_equal(rp->error_code, PROTO_ERR_NONE);
	off = rp->committed_offset;
	if (rp->metadata.ptr) {
		assert_true((size_t)rp->metadata.len < cap);
		memcpy(md, rp->metadata.ptr, (size_t)rp->metadata.len);
		md[rp->metadata.len] = '\0';
		*mdlen = (size_t)rp->metadata.len;
	} else {
		*mdlen = (size_t)snprintf(md, cap, "(null)");
	}
	proto_offset_fetch_resp_free(&r);
	net_resp_free(&raw);
	return off;
}

/* A (a's member id, NULL: new) joins a->group alone and syncs, then B
 * joins: both are answered in A's next generation, A leading; sa is
 * A's SyncGroup (its member and generation set here). */
static void join_pair(struct join_args *a, struct join_args *b, struct sync_args *sa)
{
	pthread_t th;

	join_call(a);
	assert_int_equal(a->out.error, PROTO_ERR_NONE);
	sa->member = a->out.member;
	sa->generation = a->out.generation;
	sync_call(sa);
	assert_int_equal(sa->error, PROTO_ERR_NONE);
	assert_int_equal(pthread_create(&th, NULL, join_thread, b), 0);
	heartbeat_until(a->c, a->group, a->out.member, a->out.generation,
			PROTO_ERR_REBALANCE_IN_PROGRESS);
	a->member = a->out.member;
	join_call(a);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a->out.error, PROTO_ERR_NONE);
	assert_int_equal(b->out.error, PROTO_ERR_NONE);
	assert_string_equal(a->out.leader, a->out.member);
	sa->generation = a->out.generation;
}

/* Kafka's pending sync members (KAFKA-13200's DelayedSync): a follower
 * that got its JoinGroup answer but sends no SyncGroup within the
 * rebalance timeout is removed, and the group rebalances, even though
 * the leader's SyncGroup made the group Stable and the follower's
 * heartbeats keep its session (30 s, past the poll's deadline). */
static void test_pending_sync(void **state)
{
	struct brokerfx *f = *state;
	struct net_client *c2 = brokerfx_connect(f);
	struct join_args a = {
		.c = f->c, .v = 5, .group = "ps", .session_ms = 30000, .rebalance_ms = 2000
	};
	struct join_args b = {
		.c = c2, .v = 5, .group = "ps", .session_ms = 30000, .rebalance_ms = 2000
	};
	struct sync_args sa = { .c = f->c, .v = 3, .group = "ps" };

	join_pair(&a, &b, &sa);
	assert_int_equal(a.out.generation, 2);
	sa.n = 2;
	sa.ids[0] = a.out.member;
	sa.asg[0] = "p0";
	sa.ids[1] = b.out.member;
	sa.asg[1] = "p1";
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	/* Stable; B heartbeats (NONE) but never syncs. */
	heartbeat_until(c2, "ps", b.out.member, 2, PROTO_ERR_UNKNOWN_MEMBER_ID);
	heartbeat_until(f->c, "ps", a.out.member, 2, PROTO_ERR_REBALANCE_IN_PROGRESS);
	join_call(&a);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	assert_int_equal(a.out.generation, 3);
	assert_int_equal(a.out.n_members, 1);
	/* Alone and synced: nothing is pending, A stays past the rebalance
	 * timeout (its heartbeats keep it). */
	sa.generation = 3;
	sa.n = 1;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	{
		int64_t t0 = now_mono_ms();

		while (now_mono_ms() < t0 + 2500 && !usleep(10000))
			assert_int_equal(heartbeat(f->c, 3, "ps", a.out.member, 3), PROTO_ERR_NONE);
	}
	net_client_close(c2);
}

/* Only what Kafka's coordinator takes as a heartbeat starts a member's
 * session again: a Heartbeat or OffsetCommit of another generation does
 * not (completeAndScheduleNextHeartbeatExpiration runs past the
 * generation check), nor a follower's JoinGroup answered at once in a
 * Stable group; such a member still expires after its session
 * timeout. */
static void test_session_not_renewed(void **state)
{
	struct brokerfx *f = *state;
	struct net_client *c2 = brokerfx_connect(f);
	struct join_args a = {
		.c = f->c, .v = 5, .group = "hb", .session_ms = 1000, .rebalance_ms = 2000
	};
	struct join_args b = {
		.c = c2, .v = 5, .group = "hb", .session_ms = 1000, .rebalance_ms = 2000
	};
	struct sync_args sa = { .c = f->c, .v = 3, .group = "hb" };
	struct sync_args sb = { .c = c2, .v = 3, .group = "hb" };
	const struct commit_part part = { "t", 0, 5 };
	int64_t end;
	int16_t err;

	join_call(&a);
	sa.member = a.out.member;
	sa.generation = a.out.generation;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	heartbeat_until(f->c, "hb", a.out.member, a.out.generation + 1,
			PROTO_ERR_UNKNOWN_MEMBER_ID);

	a.member = NULL;
	join_call(&a);
	sa.member = a.out.member;
	sa.generation = a.out.generation;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	end = now_mono_ms() + DEADLINE_MS;
	do {
		commit(f, 2, "hb", a.out.generation + 1, a.out.member, &part, 1, &err);
	} while (err == PROTO_ERR_ILLEGAL_GENERATION && now_mono_ms() < end && !usleep(10000));
	assert_int_equal(err, PROTO_ERR_UNKNOWN_MEMBER_ID);

	/* A (10 s) leads, B (1 s) follows; both synced, Stable. */
	a.member = NULL;
	a.session_ms = 10000;
	join_pair(&a, &b, &sa);
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	sb.member = b.out.member;
	sb.generation = b.out.generation;
	sync_call(&sb);
	assert_int_equal(sb.error, PROTO_ERR_NONE);
	/* B only rejoins (same protocols: answered at once) while A
	 * heartbeats: B's session ends all the same. */
	b.member = b.out.member;
	end = now_mono_ms() + DEADLINE_MS;
	do {
		join_call(&b);
		assert_int_not_equal(heartbeat(f->c, 3, "hb", a.out.member, a.out.generation),
				     PROTO_ERR_UNKNOWN_MEMBER_ID);
	} while (b.out.error == PROTO_ERR_NONE && now_mono_ms() < end && !usleep(10000));
	assert_int_equal(b.out.error, PROTO_ERR_UNKNOWN_MEMBER_ID);
	net_client_close(c2);
}

/* The member id of group name, under gs->mu: its parked SyncGroup (whether
 * there is one) and, with old > 0, its session set as last heard that
 * long ago. -1: no such member. */
static int member_sync_parked(struct group_serve *gs, const char *name, const char *id, int64_t old,
			      int64_t *heard)
{
	struct kmember *m;
	int parked = -1;

	pthread_mutex_lock(&gs->mu);
	m = kg_member(kg_find(gs, name), kstr_of(id));
	if (m) {
		parked = m->sync != NULL;
		if (old > 0)
			m->last_heard = now_mono_ms() - old;
		*heard = m->last_heard;
	}
	pthread_mutex_unlock(&gs->mu);
	return parked;
}

/* A follower's SyncGroup answered once the leader's comes starts its
 * session again, as Kafka's propagateAssignment completes its heartbeat:
 * however long it waited parked, it is not dropped at once. */
static void test_sync_answer_renews(void **state)
{
	struct brokerfx *f = *state;
	struct group_serve *gs = f->b->gc->kafka_arg;
	struct net_client *c2 = brokerfx_connect(f);
	struct join_args a = {
		.c = f->c, .v = 5, .group = "sr", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct join_args b = a;
	struct sync_args sa = { .c = f->c, .v = 3, .group = "sr" };
	struct sync_args sb = { .c = c2, .v = 3, .group = "sr" };
	int64_t heard = 0, t0, end;
	pthread_t th;

	b.c = c2;
	join_pair(&a, &b, &sa);
	sb.member = b.out.member;
	sb.generation = b.out.generation;
	assert_int_equal(pthread_create(&th, NULL, sync_thread, &sb), 0);
	end = now_mono_ms() + DEADLINE_MS;
	while (member_sync_parked(gs, "sr", b.out.member, 0, &heard) != 1 && now_mono_ms() < end)
		usleep(10000);
	/* Parked past its session (the timer leaves a parked member). */
	assert_int_equal(member_sync_parked(gs, "sr", b.out.member, 60000, &heard), 1);
	t0 = now_mono_ms();
	sync_call(&sa);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(sb.error, PROTO_ERR_NONE);
	assert_int_equal(member_sync_parked(gs, "sr", b.out.member, 0, &heard), 0);
	assert_true(heard >= t0);
	net_client_close(c2);
}

/* Kafka's NewMemberJoinTimeoutMs (5 minutes; 500 ms here): a member that
 * has been in no generation yet and whose JoinGroup waits in a rebalance
 * (held up by a member that does not rejoin, up to the rebalance
 * timeout: 60 s, past the call's deadline) is removed at its join
 * timeout, its JoinGroup answered UNKNOWN_MEMBER_ID without a member id,
 * so that a client which timed out and joined again leaves no defunct
 * member behind; the rebalance goes on waiting for the old member,
 * whose rejoin makes the next generation alone. A member of a
 * generation waits in its JoinGroup past that timeout. */
static void test_new_member_join_timeout(void **state)
{
	struct brokerfx *f = *state;
	struct group_serve *gs = f->b->gc->kafka_arg;
	struct net_client *c2 = brokerfx_connect(f);
	struct join_args a = {
		.c = f->c, .v = 5, .group = "nm", .session_ms = 30000, .rebalance_ms = 60000
	};
	struct join_args b = a;
	struct sync_args sa = { .c = f->c, .v = 3, .group = "nm" };
	struct sync_args sb = { .c = c2, .v = 3, .group = "nm" };
	char am[256], bm[256];
	int64_t t0;
	pthread_t th;

	pthread_mutex_lock(&gs->mu);
	gs->new_member_ms = 500;
	pthread_mutex_unlock(&gs->mu);
	join_call(&a);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	snprintf(am, sizeof(am), "%s", a.out.member);
	sa.member = a.member = am;
	sa.generation = a.out.generation;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);

	b.c = c2;
	b.once = true;
	join_call(&b);
	assert_int_equal(b.out.error, PROTO_ERR_MEMBER_ID_REQUIRED);
	snprintf(bm, sizeof(bm), "%s", b.out.member);
	b.member = bm;
	b.once = false;
	join_call(&b); /* a does not rejoin: answered at b's join timeout */
	assert_int_equal(b.out.error, PROTO_ERR_UNKNOWN_MEMBER_ID);
	assert_string_equal(b.out.member, "");
	assert_int_equal(heartbeat(c2, 3, "nm", bm, 1), PROTO_ERR_UNKNOWN_MEMBER_ID);
	assert_int_equal(heartbeat(f->c, 3, "nm", am, 1), PROTO_ERR_REBALANCE_IN_PROGRESS);
	join_call(&a);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	assert_int_equal(a.out.generation, 2);
	assert_int_equal(a.out.n_members, 1);

	/* b joins in time, with a: both of generation 3. */
	sa.generation = 2;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	b.member = NULL;
	assert_int_equal(pthread_create(&th, NULL, join_thread, &b), 0);
	heartbeat_until(f->c, "nm", am, 2, PROTO_ERR_REBALANCE_IN_PROGRESS);
	join_call(&a);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	assert_int_equal(b.out.error, PROTO_ERR_NONE);
	assert_int_equal(a.out.generation, 3);
	snprintf(bm, sizeof(bm), "%s", b.out.member);
	sa.generation = sb.generation = 3;
	sb.member = b.member = bm;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	sync_call(&sb);
	assert_int_equal(sb.error, PROTO_ERR_NONE);
	/* The leader rejoins; b, heartbeating, rejoins after twice the
	 * join timeout: a's JoinGroup waited on. */
	assert_int_equal(pthread_create(&th, NULL, join_thread, &a), 0);
	heartbeat_until(c2, "nm", bm, 3, PROTO_ERR_REBALANCE_IN_PROGRESS);
	t0 = now_mono_ms();
	while (now_mono_ms() < t0 + 1000 && !usleep(10000))
		assert_int_equal(heartbeat(c2, 3, "nm", bm, 3), PROTO_ERR_REBALANCE_IN_PROGRESS);
	join_call(&b);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	assert_int_equal(b.out.error, PROTO_ERR_NONE);
	assert_int_equal(a.out.generation, 4);
	assert_int_equal(a.out.n_members, 2);
	net_client_close(c2);
}

/* Kafka's hasAllMembersJoined: a JoinGroup round waits, before its
 * deadline (60 s here, past the call's deadline), for the member ids
 * handed out with MEMBER_ID_REQUIRED to come back, so that a consumer
 * starting while the group rebalances joins that generation rather than
 * rebalance the next one. One that does not come back holds the round
 * until its session timeout (500 ms) forgets it, or until a LeaveGroup
 * names it. */
static void test_pending_member_awaited(void **state)
{
	struct brokerfx *f = *state;
	struct group_serve *gs = f->b->gc->kafka_arg;
	struct net_client *c2 = brokerfx_connect(f), *c3 = brokerfx_connect(f);
	struct join_args a = {
		.c = f->c, .v = 5, .group = "pa", .session_ms = 30000, .rebalance_ms = 60000
	};
	struct join_args b = a, p = a;
	struct sync_args sa = { .c = f->c, .v = 3, .group = "pa" };
	char am[256], bm[256];
	pthread_t ta, tb;

	join_call(&a);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	snprintf(am, sizeof(am), "%s", a.out.member);
	sa.member = a.member = am;
	sa.generation = 1;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);

	/* b gets its member id; a, the leader, rejoins: the round waits. */
	b.c = c2;
	b.once = true;
	join_call(&b);
	assert_int_equal(b.out.error, PROTO_ERR_MEMBER_ID_REQUIRED);
	snprintf(bm, sizeof(bm), "%s", b.out.member);
	b.member = bm;
	b.once = false;
	assert_int_equal(pthread_create(&ta, NULL, join_thread, &a), 0);
	joins_parked_until(gs, "pa", 1);
	join_call(&b);
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	assert_int_equal(b.out.error, PROTO_ERR_NONE);
	assert_int_equal(a.out.generation, 2);
	assert_int_equal(b.out.generation, 2);
	assert_int_equal(a.out.n_members, 2);

	/* A member id that never comes back: forgotten at its session
	 * timeout, and the round completes then. */
	sa.generation = 2;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	p.c = c3;
	p.once = true;
	p.session_ms = 500;
	join_call(&p);
	assert_int_equal(p.out.error, PROTO_ERR_MEMBER_ID_REQUIRED);
	assert_int_equal(pthread_create(&ta, NULL, join_thread, &a), 0);
	joins_parked_until(gs, "pa", 1);
	join_call(&b);
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(b.out.error, PROTO_ERR_NONE);
	assert_int_equal(b.out.generation, 3);
	assert_int_equal(a.out.n_members, 2);
	assert_int_equal(npending(gs), 0);

	/* One a LeaveGroup names: forgotten, and the round completes. */
	sa.generation = 3;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	p.session_ms = 30000;
	join_call(&p);
	assert_int_equal(p.out.error, PROTO_ERR_MEMBER_ID_REQUIRED);
	assert_int_equal(pthread_create(&ta, NULL, join_thread, &a), 0);
	joins_parked_until(gs, "pa", 1); /* the rebalance, before b rejoins */
	assert_int_equal(pthread_create(&tb, NULL, join_thread, &b), 0);
	joins_parked_until(gs, "pa", 2);
	assert_int_equal(leave(c3, 3, "pa", p.out.member), PROTO_ERR_NONE);
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tb, NULL), 0);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	assert_int_equal(b.out.error, PROTO_ERR_NONE);
	assert_int_equal(a.out.generation, 4);
	assert_int_equal(a.out.n_members, 2);
	net_client_close(c2);
	net_client_close(c3);
}

/* Two static members in generation 2, after join_pair: a ("ia", the
 * leader, on f->c) and b ("ib", on c2), both answered, neither synced
 * (CompletingRebalance), their ids in am and bm; n is a client (c3)
 * that will join with instance id replaces and no member id. */
struct static_fx {
	struct net_client *c2, *c3;
	struct join_args a, b, n;
	struct sync_args sa;
	char am[256], bm[256];
};

static void static_fx_start(struct brokerfx *f, struct static_fx *x, const char *group,
			    int32_t rebalance_ms, const char *replaces)
{
	memset(x, 0, sizeof(*x));
	x->c2 = brokerfx_connect(f);
	x->c3 = brokerfx_connect(f);
	x->a = (struct join_args){ .c = f->c,
				   .v = 5,
				   .group = group,
				   .instance = "ia",
				   .session_ms = 30000,
				   .rebalance_ms = rebalance_ms };
	x->b = x->n = x->a;
	x->b.c = x->c2;
	x->b.instance = "ib";
	x->n.c = x->c3;
	x->n.instance = replaces;
	x->sa = (struct sync_args){ .c = f->c, .v = 3, .group = group };
	join_pair(&x->a, &x->b, &x->sa);
	assert_int_equal(x->a.out.generation, 2);
	snprintf(x->am, sizeof(x->am), "%s", x->a.out.member);
	snprintf(x->bm, sizeof(x->bm), "%s", x->b.out.member);
	x->sa.member = x->a.member = x->am;
	x->b.member = x->bm;
}

/* A static member replaced (a JoinGroup of its group.instance.id without
 * a member id) while the group is CompletingRebalance, before it synced:
 * as Kafka's updateStaticMemberAndRebalance, the group rebalances (the
 * leader may have assigned the old member id already), the follower's
 * parked SyncGroup hears REBALANCE_IN_PROGRESS, the old member's
 * requests FENCED_INSTANCE_ID; the new member takes the old one's place
 * (replaceStaticMember), the leadership with it: having joined, it leads
 * the next generation, though the follower is before it in join order
 * and rejoins too. */
static void test_static_replaced_completing(void **state)
{
	struct brokerfx *f = *state;
	struct group_serve *gs = f->b->gc->kafka_arg;
	struct static_fx x;
	struct sync_args sb;
	int64_t heard, end;
	pthread_t th, tn;

	static_fx_start(f, &x, "sc", 20000, "ia");
	/* CompletingRebalance: b's SyncGroup waits for the leader's. */
	sb = (struct sync_args){
		.c = x.c2, .v = 3, .group = "sc", .member = x.bm, .generation = 2
	};
	assert_int_equal(pthread_create(&th, NULL, sync_thread, &sb), 0);
	end = now_mono_ms() + DEADLINE_MS;
	while (member_sync_parked(gs, "sc", x.bm, 0, &heard) != 1 && now_mono_ms() < end)
		usleep(10000);
	assert_int_equal(member_sync_parked(gs, "sc", x.bm, 0, &heard), 1);
	assert_int_equal(pthread_create(&tn, NULL, join_thread, &x.n), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(sb.error, PROTO_ERR_REBALANCE_IN_PROGRESS);
	joins_parked_until(gs, "sc", 1);
	assert_int_equal(heartbeat_static(f->c, 4, "sc", x.am, "ia", 2),
			 PROTO_ERR_FENCED_INSTANCE_ID);
	join_call(&x.b);
	assert_int_equal(pthread_join(tn, NULL), 0);
	assert_int_equal(x.b.out.error, PROTO_ERR_NONE);
	assert_int_equal(x.n.out.error, PROTO_ERR_NONE);
	assert_int_equal(x.n.out.generation, 3);
	assert_string_not_equal(x.n.out.member, x.am);
	assert_string_equal(x.n.out.leader, x.n.out.member);
	assert_string_equal(x.b.out.leader, x.n.out.member);
	assert_int_equal(x.n.out.n_members, 2);
	net_client_close(x.c2);
	net_client_close(x.c3);
}

/* A static member replaced in a Stable group takes its old member's
 * place as it was (Kafka's replaceStaticMember and
 * updateStaticMemberAndRebalance): without a rebalance though the
 * leader assigned it nothing (Kafka gives such a member an empty
 * assignment); not new (its heartbeats keep it past the new member join
 * timeout, 200 ms here); and, as the old one had not synced, bound to
 * sync within the rebalance timeout (3 s), else removed and the group
 * rebalances. */
static void test_static_replaced_stable(void **state)
{
	struct brokerfx *f = *state;
	struct group_serve *gs = f->b->gc->kafka_arg;
	struct static_fx x;
	int64_t t0;

	pthread_mutex_lock(&gs->mu);
	gs->new_member_ms = 200;
	pthread_mutex_unlock(&gs->mu);
	static_fx_start(f, &x, "ss", 3000, "ib");
	x.sa.ids[0] = x.am;
	x.sa.n = 1;
	x.sa.asg[0] = "a";
	sync_call(&x.sa); /* Stable; b assigned nothing, and it never syncs */
	assert_int_equal(x.sa.error, PROTO_ERR_NONE);

	join_call(&x.n);
	assert_int_equal(x.n.out.error, PROTO_ERR_NONE);
	assert_int_equal(x.n.out.generation, 2);
	assert_string_not_equal(x.n.out.member, x.bm);
	assert_int_equal(heartbeat_static(x.c2, 4, "ss", x.bm, "ib", 2),
			 PROTO_ERR_FENCED_INSTANCE_ID);
	t0 = now_mono_ms();
	while (now_mono_ms() < t0 + 500 && !usleep(10000))
		assert_int_equal(heartbeat_static(x.c3, 4, "ss", x.n.out.member, "ib", 2),
				 PROTO_ERR_NONE);
	heartbeat_until(x.c3, "ss", x.n.out.member, 2, PROTO_ERR_UNKNOWN_MEMBER_ID);
	heartbeat_until(f->c, "ss", x.am, 2, PROTO_ERR_REBALANCE_IN_PROGRESS);
	net_client_close(x.c2);
	net_client_close(x.c3);
}

/* JoinGroup's checks in Kafka's order: the protocols before the member
 * (an unknown member id with another protocol type is
 * INCONSISTENT_GROUP_PROTOCOL), counting the joining member's present
 * protocols (a group's only member cannot switch its protocol type or
 * to protocols it did not offer); a member id for a group that does not
 * exist is UNKNOWN_MEMBER_ID. And validateCurrentMember: a request with
 * a group.instance.id no member holds is UNKNOWN_MEMBER_ID, whatever its
 * member id (the member stays). */
static void test_join_checks(void **state)
{
	struct brokerfx *f = *state;
	struct join_args a = {
		.c = f->c, .v = 5, .group = "pc", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct join_args x;
	struct sync_args sa = { .c = f->c, .v = 3, .group = "pc" };

	join_call(&a);
	sa.member = a.out.member;
	sa.generation = a.out.generation;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	x = a;
	x.member = a.out.member;
	x.ptype = "other";
	join_call(&x);
	assert_int_equal(x.out.error, PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL);
	x.ptype = NULL;
	x.protos[0] = "sticky";
	join_call(&x);
	assert_int_equal(x.out.error, PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL);
	x = a;
	x.member = "nobody";
	x.ptype = "other";
	join_call(&x);
	assert_int_equal(x.out.error, PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL);
	x.ptype = NULL;
	join_call(&x);
	assert_int_equal(x.out.error, PROTO_ERR_UNKNOWN_MEMBER_ID);
	x.group = "nogroup";
	join_call(&x);
	assert_int_equal(x.out.error, PROTO_ERR_UNKNOWN_MEMBER_ID);
	/* None of those rebalanced the group. */
	assert_int_equal(heartbeat(f->c, 3, "pc", a.out.member, a.out.generation), PROTO_ERR_NONE);

	assert_int_equal(heartbeat_static(f->c, 3, "pc", a.out.member, "ghost", a.out.generation),
			 PROTO_ERR_UNKNOWN_MEMBER_ID);
	assert_int_equal(leave_static(f->c, 3, "pc", a.out.member, "ghost"),
			 PROTO_ERR_UNKNOWN_MEMBER_ID);
	x = a;
	x.member = a.out.member;
	x.instance = "ghost";
	join_call(&x);
	assert_int_equal(x.out.error, PROTO_ERR_UNKNOWN_MEMBER_ID);
	assert_int_equal(heartbeat(f->c, 3, "pc", a.out.member, a.out.generation), PROTO_ERR_NONE);
}

/* Kafka's validateOffsetCommit (3.3.1+, KAFKA-14201): an OffsetCommit
 * with generation -1 commits to a group without members whatever member
 * id it names (a consumer that left its group, an admin tool), the
 * group made if it is missing; while the group has members, an unknown member id is
 * UNKNOWN_MEMBER_ID and a member's, ILLEGAL_GENERATION. */
static void test_commit_no_generation(void **state)
{
	struct brokerfx *f = *state;
	struct join_args j = {
		.c = f->c, .v = 5, .group = "ng", .session_ms = 30000, .rebalance_ms = 10000
	};
	struct commit_part cp = { "t", 0, 5 };
	char member[256];
	int16_t err;

	commit(f, 8, "ng", -1, "gone-member", &cp, 1, &err);
	assert_int_equal(err, PROTO_ERR_NONE);
	assert_int_equal(mount_offset(f, "ng", 0), 5);
	join_call(&j);
	assert_int_equal(j.out.error, PROTO_ERR_NONE);
	snprintf(member, sizeof(member), "%s", j.out.member);
	cp.offset = 6;
	commit(f, 8, "ng", -1, "gone-member", &cp, 1, &err);
	assert_int_equal(err, PROTO_ERR_UNKNOWN_MEMBER_ID);
	commit(f, 8, "ng", -1, member, &cp, 1, &err);
	assert_int_equal(err, PROTO_ERR_ILLEGAL_GENERATION);
	assert_int_equal(leave(f->c, 3, "ng", member), PROTO_ERR_NONE);
	commit(f, 8, "ng", -1, member, &cp, 1, &err);
	assert_int_equal(err, PROTO_ERR_NONE);
	assert_int_equal(mount_offset(f, "ng", 0), 6);
}

static void test_offsets(void **state)
{
	struct brokerfx *f = *state;
	struct commit_part bad[] = { { "t", 0, 5 },
				     { "t", 7, 1 },
				     { "nope", 0, 1 },
				     { "t", 1, -1 },
				     { "__consumer_offsets", 0, 1 } };
	int16_t errs[5];
	int64_t offs[2];

	/* A commit outside any generation, as admin tools send. */
	commit(f, 2, "g", -1, "", bad, 5, errs);
	assert_int_equal(errs[0], PROTO_ERR_NONE);
	assert_int_equal(errs[1], PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_int_equal(errs[2], PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_int_equal(errs[3], PROTO_ERR_NONE); /* -1, none: as given */
	assert_int_equal(errs[4], PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	/* The mount's group of the same name holds it. */
	assert_int_equal(mount_offset(f, "g", 0), 5);

	for (int16_t v = 1; v <= 8; v++) {
		fetch_offsets(f, v, "g", false, offs);
		assert_int_equal(offs[0], 5);
		assert_int_equal(offs[1], -1);
	}
	/* Every committed partition, the -1 kept too (as Kafka lists its
	 * stored offsets); a partition never committed is not listed. */
	fetch_offsets(f, 7, "g", true, offs);
	assert_int_equal(offs[0], 5);
	assert_int_equal(offs[1], -1);
	commit(f, 2, "h", -1, "", bad, 1, errs);
	assert_int_equal(errs[0], PROTO_ERR_NONE);
	fetch_offsets(f, 7, "h", true, offs);
	assert_int_equal(offs[0], 5);
	assert_int_equal(offs[1], NOT_LISTED);
	fetch_offsets(f, 3, "unknown", false, offs);
	assert_int_equal(offs[0], -1);
	/* A generation for a group this coordinator does not have comes from
	 * an older generation: ILLEGAL_GENERATION, as Kafka. Nothing is
	 * committed. (Generation -1 commits, whatever the member id:
	 * test_commit_no_generation.) */
	commit(f, 7, "never", 3, "someone", bad, 1, errs);
	assert_int_equal(errs[0], PROTO_ERR_ILLEGAL_GENERATION);
	commit(f, 7, "never", 0, "", bad, 1, errs);
	assert_int_equal(errs[0], PROTO_ERR_ILLEGAL_GENERATION);
	fetch_offsets(f, 7, "never", true, offs);
	assert_int_equal(offs[0], NOT_LISTED);

	/* A commit through the mount is what OffsetFetch answers. */
	assert_int_equal(mount_reset(f, "g", 1, "0"), 0);
	fetch_offsets(f, 8, "g", false, offs);
	assert_int_equal(offs[1], 0);

	/* Members: the generation and member id are checked. */
	{
		struct join_args j = {
			.c = f->c, .v = 5, .group = "g", .session_ms = 10000, .rebalance_ms = 10000
		};
		struct sync_args s = { .c = f->c, .v = 3, .group = "g" };
		struct commit_part ok[] = { { "t", 1, 3 } };

		join_call(&j);
		commit(f, 7, "g", j.out.generation, j.out.member, ok, 1, errs);
		assert_int_equal(errs[0], PROTO_ERR_REBALANCE_IN_PROGRESS); /* not synced */
		s.member = j.out.member;
		s.generation = j.out.generation;
		sync_call(&s);
		commit(f, 7, "g", j.out.generation, j.out.member, ok, 1, errs);
		assert_int_equal(errs[0], PROTO_ERR_NONE);
		assert_int_equal(mount_offset(f, "g", 1), 3);
		commit(f, 7, "g", j.out.generation + 1, j.out.member, ok, 1, errs);
		assert_int_equal(errs[0], PROTO_ERR_ILLEGAL_GENERATION);
		commit(f, 8, "g", j.out.generation, "stranger", ok, 1, errs);
		assert_int_equal(errs[0], PROTO_ERR_UNKNOWN_MEMBER_ID);
		commit(f, 2, "g", -1, "", ok, 1, errs);
		assert_int_equal(errs[0], PROTO_ERR_UNKNOWN_MEMBER_ID);
		/* A reset through the mount while Kafka members are in. */
		assert_int_equal(mount_reset(f, "g", 1, "0"), -EBUSY);
		assert_int_equal(leave(f->c, 3, "g", j.out.member), PROTO_ERR_NONE);
	}
}

/* kafkajs's admin.resetOffsets joins the group and, as its member,
 * commits -2 for earliest or -1 for latest, which Kafka stores as given:
 * taken, OffsetFetch answers them (with every committed partition too),
 * and the mount's group of the name reads -2 as the log start, -1 as none
 * (its auto.offset.reset, latest here). */
static void test_reset_commit(void **state)
{
	struct brokerfx *f = *state;
	static const char latest[] = "auto.offset.reset=latest\n";
	static const char lines[] = "1\n2\n3\n4\n";
	struct commit_part three[] = { { "t", 0, 3 }, { "t", 1, 3 } };
	struct commit_part reset[] = { { "t", 0, -2 }, { "t", 1, -1 } };
	struct join_args j = {
		.c = f->c, .v = 5, .group = "r", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct sync_args s = { .c = f->c, .v = 3, .group = "r" };
	struct topic *t;
	struct group *g;
	int16_t errs[2];
	int64_t offs[2];

	assert_int_equal(broker_topic_get(f->b, "t", &t), 0);
	for (int p = 0; p < 2; p++)
		assert_int_equal(topic_produce(t, p, lines, sizeof(lines) - 1, 0), 0);
	commit(f, 2, "r", -1, "", three, 2, errs);
	assert_int_equal(errs[0], PROTO_ERR_NONE);
	assert_int_equal(group_open(t, "r", 0, &g), 0);
	assert_int_equal(group_config_write(g, latest, sizeof(latest) - 1), 0);
	group_put(g);
	topic_put(t);

	join_call(&j);
	s.member = j.out.member;
	s.generation = j.out.generation;
	sync_call(&s);
	commit(f, 7, "r", j.out.generation, j.out.member, reset, 2, errs);
	assert_int_equal(errs[0], PROTO_ERR_NONE);
	assert_int_equal(errs[1], PROTO_ERR_NONE);
	assert_int_equal(leave(f->c, 3, "r", j.out.member), PROTO_ERR_NONE);

	fetch_offsets(f, 8, "r", false, offs);
	assert_int_equal(offs[0], -2);
	assert_int_equal(offs[1], -1);
	fetch_offsets(f, 7, "r", true, offs);
	assert_int_equal(offs[0], -2);
	assert_int_equal(offs[1], -1);
	assert_int_equal(mount_offset(f, "r", 0), 0);
	assert_int_equal(mount_offset(f, "r", 1), 4);
}

/* ---- consume files and Kafka consumers in one group ---- */

static void no_wake(void *arg)
{
	(void)arg;
}

/* The partitions of t in a consumer protocol assignment, as a bit mask. */
static int asg_mask(const struct sync_args *s)
{
	struct proto_consumer_asg a;
	int mask = 0;

	assert_int_equal(proto_consumer_asg_decode(s->raw, (size_t)s->raw_len, &a), 0);
	for (int32_t i = 0; i < a.n_assigned; i++)
		for (int32_t j = 0; j < a.assigned_partitions[i].n_partitions; j++)
			if (kstr_eq(a.assigned_partitions[i].topic, "t"))
				mask |= 1 << a.assigned_partitions[i].partitions[j];
	proto_consumer_asg_free(&a);
	return mask;
}

static int owned(struct group_member *m)
{
	int mask = 0;

	pthread_mutex_lock(&m->g->mu);
	for (int p = 0; p < m->g->nparts; p++)
		if (m->g->parts[p].owner == m)
			mask |= 1 << p;
	pthread_mutex_unlock(&m->g->mu);
	return mask;
}

/* A Kafka consumer joins (or rejoins as member) the group whose consume
 * files are members, as a follower, and syncs: its partitions. */
static int kafka_guest_round(struct brokerfx *f, const char *member, char *id, int32_t *gen)
{
	struct join_args j = {
		.c = f->c, .v = 5, .group = "mg", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct sync_args s = { .c = f->c, .v = 3, .group = "mg" };

	j.member = member;
	join_call(&j);
	assert_int_equal(j.out.error, PROTO_ERR_NONE);
	assert_string_equal(j.out.leader, "mqfs-coordinator");
	assert_string_equal(j.out.protocol, "range");
	assert_int_equal(j.out.n_members, 0);
	assert_non_null(strstr(j.out.member, "@kafka"));
	snprintf(id, 256, "%s", j.out.member);
	*gen = j.out.generation;
	s.member = id;
	s.generation = *gen;
	sync_call(&s);
	assert_int_equal(s.error, PROTO_ERR_NONE);
	return asg_mask(&s);
}

static void test_mixed_group(void **state)
{
	struct brokerfx *f = *state;
	struct commit_part ok[] = { { "t", 0, 1 } };
	struct group_member *m;
	struct topic *t;
	struct group *g;
	char id[256];
	int32_t gen;
	int16_t errs[1];
	int kmask;

	assert_int_equal(broker_topic_get(f->b, "t", &t), 0);
	assert_int_equal(group_open(t, "mg", GROUP_CREATE, &g), 0);
	assert_int_equal(group_join(g, getpid(), no_wake, NULL, &m), 0);
	assert_int_equal(owned(m), 3);

	/* A consumer joins the consume file's group: the group's assignor
	 * (range, the file first by id) splits t between them. */
	kmask = kafka_guest_round(f, NULL, id, &gen);
	assert_int_equal(g->nmembers, 2);
	assert_int_equal(gen, g->generation);
	assert_true(kmask == 1 || kmask == 2);
	assert_int_equal(owned(m), 3 & ~kmask);
	ok[0].partition = kmask == 1 ? 0 : 1;
	commit(f, 2, "mg", gen, id, ok, 1, errs);
	assert_int_equal(errs[0], PROTO_ERR_NONE);
	ok[0].partition = 1 - ok[0].partition;
	commit(f, 2, "mg", gen, id, ok, 1, errs);
	assert_int_equal(errs[0], PROTO_ERR_ILLEGAL_GENERATION);

	/* The file closes: the consumer learns it, rejoins, takes both. */
	group_leave(m);
	assert_int_equal(heartbeat(f->c, 3, "mg", id, gen), PROTO_ERR_REBALANCE_IN_PROGRESS);
	assert_int_equal(kafka_guest_round(f, id, id, &gen), 3);
	assert_int_equal(heartbeat(f->c, 3, "mg", id, gen), PROTO_ERR_NONE);
	assert_int_equal(leave(f->c, 3, "mg", id), PROTO_ERR_NONE);
	assert_int_equal(g->nmembers, 0);

	/* Kafka consumers first, in a group of their own; a consume file
	 * opens: their group ends, and they join the file's. */
	{
		static const char asg[] = { 0, 0, 0, 0, 0, 1, 0, 1, 't', 0,  0,  0, 2,
					    0, 0, 0, 0, 0, 0, 0, 1, -1,  -1, -1, -1 };
		struct join_args j = {
			.c = f->c, .v = 5, .group = "mg", .session_ms = 10000, .rebalance_ms = 10000
		};
		struct sync_args s = { .c = f->c, .v = 3, .group = "mg", .n = 1 };
		char *text;
		size_t len;

		join_call(&j);
		assert_int_equal(j.out.error, PROTO_ERR_NONE);
		assert_string_equal(j.out.leader, j.out.member);
		s.member = j.out.member;
		s.generation = j.out.generation;
		s.ids[0] = j.out.member;
		s.asg[0] = asg;
		s.asg_len[0] = sizeof(asg);
		sync_call(&s);
		assert_int_equal(s.error, PROTO_ERR_NONE);
		assert_true(kafka_active(f, "mg"));
		assert_int_equal(group_state_text(g, &text, &len), 0);
		assert_non_null(strstr(text, "kafka-group Stable generation 1 protocol range "
					     "members 1\n"));
		assert_non_null(strstr(text, "partitions 0,1\n"));
		free(text);
		assert_int_equal(group_delete(t, "mg"), -EBUSY);

		assert_int_equal(group_join(g, getpid(), no_wake, NULL, &m), 0);
		assert_false(kafka_active(f, "mg"));
		assert_int_equal(owned(m), 3);
		assert_int_equal(heartbeat(f->c, 3, "mg", j.out.member, j.out.generation),
				 PROTO_ERR_UNKNOWN_MEMBER_ID);
	}
	kmask = kafka_guest_round(f, NULL, id, &gen);
	assert_true(kmask == 1 || kmask == 2);
	assert_int_equal(owned(m), 3 & ~kmask);

	/* Another protocol type still cannot join them. */
	{
		struct join_args j = { .c = f->c,
				       .v = 5,
				       .group = "mg",
				       .ptype = "connect",
				       .session_ms = 10000,
				       .rebalance_ms = 10000 };

		join_call(&j);
		assert_int_equal(j.out.error, PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL);
	}
	assert_int_equal(leave(f->c, 3, "mg", id), PROTO_ERR_NONE);
	group_leave(m);
	group_put(g);
	topic_put(t);
}

/* ---- GroupMetadata records: the members across a restart ---- */

/* The last GroupMetadata value of group in its partition of
 * __consumer_offsets (malloc'ed, *len; NULL: none, or a tombstone), read
 * as a replay reads it: escaped lines, unescaped, keys decoded. */
static uint8_t *meta_record(struct brokerfx *f, const char *group, size_t *len)
{
	struct line_scratch scratch = { 0 };
	static char buf[1 << 16];
	size_t used = brokerfx_offsets_text(f->b, group, buf, sizeof(buf));
	uint8_t *last = NULL;

	for (char *line = buf, *nl; (nl = memchr(line, '\n', (size_t)(buf + used - line)));
	     line = nl + 1) {
		struct rec_in r;
		char name[256];

		if (line[0] != '\\')
			continue;
		assert_int_equal(group_meta_line_parse(line, (size_t)(nl - line), &scratch, &r), 0);
		if (group_meta_key_decode((const uint8_t *)r.key, (size_t)r.key_len, name,
					  sizeof(name)) < 0 ||
		    strcmp(name, group))
			continue;
		free(last);
		last = NULL;
		*len = r.value_len > 0 ? (size_t)r.value_len : 0;
		if (r.value_len > 0) {
			last = malloc(*len);
			memcpy(last, r.value, *len);
		}
	}
	line_scratch_free(&scratch);
	return last;
}

/* brokerfx_close and brokerfx_open, what the reopened broker logs in
 * logged (NUL-terminated). */
static void reopen_logged(struct brokerfx *f, char *logged, size_t cap)
{
	char path[] = "/tmp/mqfs-test-gserve-log.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	brokerfx_close(f);
	dup2(fd, 2);
	mq_log_init(MQ_INFO, false);
	brokerfx_open(f);
	mq_log_init(MQ_ERR, false);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, logged, cap - 1, 0);
	close(fd);
	logged[n > 0 ? n : 0] = '\0';
	fputs(logged, stderr);
}

/* One member joins group j->group and syncs with assignment asg as its
 * leader: its id into member (cap bytes), s made ready for more syncs of
 * it (its generation). */
static void join_sync_one(struct join_args *j, struct sync_args *s, char *member, size_t cap,
			  const char *asg)
{
	join_call(j);
	assert_int_equal(j->out.error, PROTO_ERR_NONE);
	snprintf(member, cap, "%s", j->out.member);
	s->member = member;
	s->generation = j->out.generation;
	s->ids[0] = member;
	s->asg[0] = asg;
	sync_call(s);
	assert_int_equal(s->error, PROTO_ERR_NONE);
}

/* Waits (polling, DEADLINE_MS) until group's last record is the Empty
 * one (no members; the timer thread writes it), decoded into *gm (the
 * caller frees it). */
static void wait_empty_record(struct brokerfx *f, const char *group, struct group_meta *gm)
{
	int64_t until = now_mono_ms() + DEADLINE_MS;

	for (;;) {
		size_t len = 0;
		uint8_t *val = meta_record(f, group, &len);

		assert_non_null(val);
		assert_int_equal(group_meta_value_decode(val, len, gm), 0);
		free(val);
		if (gm->n_members == 0)
			return;
		group_meta_free(gm);
		assert_true(now_mono_ms() < until);
		usleep(10000);
	}
}

/* Kafka's GroupMetadata record: the leader's SyncGroup writes the
 * generation (members, subscriptions, the assignments it brings) to the
 * group's partition of __consumer_offsets in Kafka's layout before the
 * members are answered; a broker that opens the data loads the group
 * Stable with them, so the member goes on with its member id and
 * generation (heartbeat, its assignment, DescribeGroups) instead of
 * UNKNOWN_MEMBER_ID; the group becoming Empty (the member leaves) writes
 * a record without members, after which a reopen knows no member; and
 * DeleteGroups writes its tombstone. */
static void test_metadata_reload(void **state)
{
	struct brokerfx *f = *state;
	static const char asg[] = "p0\n\\x\t"; /* bytes a line must escape */
	struct join_args j = { .c = f->c,
			       .v = 5,
			       .group = "meta",
			       .instance = "inst-1",
			       .session_ms = 10000,
			       .rebalance_ms = 20000 };
	struct sync_args s = { .c = f->c, .v = 3, .group = "meta", .n = 1 };
	struct commit_part cp = { "t", 0, 1 };
	struct group_meta gm;
	char member[256], logged[1 << 16];
	uint8_t *val;
	size_t len = 0;
	int16_t err;

	join_sync_one(&j, &s, member, sizeof(member), asg);
	assert_string_equal(s.got, asg);

	val = meta_record(f, "meta", &len);
	assert_non_null(val);
	assert_int_equal(val[0], 0);
	assert_int_equal(val[1], 3); /* value version 3 */
	assert_int_equal(group_meta_value_decode(val, len, &gm), 0);
	assert_true(kstr_eq(gm.protocol_type, "consumer"));
	assert_int_equal(gm.generation, j.out.generation);
	assert_true(kstr_eq(gm.protocol, "range"));
	assert_true(kstr_eq(gm.leader, member));
	assert_true(gm.current_state_timestamp > 0);
	assert_int_equal(gm.n_members, 1);
	assert_true(kstr_eq(gm.members[0].member_id, member));
	assert_true(kstr_eq(gm.members[0].instance_id, "inst-1"));
	assert_true(kstr_eq(gm.members[0].client_id, "mqfs"));
	assert_true(kstr_eq(gm.members[0].client_host, "/127.0.0.1"));
	assert_int_equal(gm.members[0].session_timeout, 10000);
	assert_int_equal(gm.members[0].rebalance_timeout, 20000);
	assert_int_equal(gm.members[0].subscription.len, sizeof(sub_t));
	assert_memory_equal(gm.members[0].subscription.ptr, sub_t, sizeof(sub_t));
	assert_true(kstr_eq(gm.members[0].assignment, asg));
	group_meta_free(&gm);
	free(val);

	reopen_logged(f, logged, sizeof(logged));
	assert_non_null(strstr(logged, "Kafka group meta: loaded Stable, generation 1"));
	assert_int_equal(heartbeat_static(f->c, 3, "meta", member, "inst-1", 1), PROTO_ERR_NONE);
	/* Stable: a SyncGroup gets the member's assignment as loaded. */
	s.c = f->c;
	s.n = 0;
	sync_call(&s);
	assert_int_equal(s.error, PROTO_ERR_NONE);
	assert_string_equal(s.got, asg);
	{
		char cid[300], host[300];

		describe_member(f, "meta", cid, host, sizeof(cid));
		assert_string_equal(cid, "mqfs");
		assert_string_equal(host, "/127.0.0.1");
	}
	/* A rejoin with its id and protocols is the same member. */
	j.c = f->c;
	j.member = member;
	join_call(&j);
	assert_int_equal(j.out.error, PROTO_ERR_NONE);
	assert_string_equal(j.out.member, member);
	assert_int_equal(j.out.generation, 2);
	s.generation = 2;
	s.n = 1;
	sync_call(&s);
	assert_int_equal(s.error, PROTO_ERR_NONE);
	commit(f, 2, "meta", 2, member, &cp, 1, &err);
	assert_int_equal(err, PROTO_ERR_NONE);

	/* It leaves: the Empty record (the timer writes it). */
	assert_int_equal(leave(f->c, 3, "meta", member), PROTO_ERR_NONE);
	{
		wait_empty_record(f, "meta", &gm);
		assert_int_equal(gm.generation, 3);
		assert_int_equal(gm.protocol.len, -1);
		assert_int_equal(gm.leader.len, -1);
		group_meta_free(&gm);
	}
	reopen_logged(f, logged, sizeof(logged));
	assert_null(strstr(logged, "Kafka group meta: loaded Stable"));
	assert_non_null(strstr(logged, "Kafka group meta: loaded Empty, generation 3"));
	assert_int_equal(heartbeat(f->c, 3, "meta", member, 2), PROTO_ERR_UNKNOWN_MEMBER_ID);

	/* DeleteGroups: the group's record gets its tombstone. */
	assert_int_equal(delete_group(f, "meta"), PROTO_ERR_NONE);
	len = 1;
	assert_null(meta_record(f, "meta", &len));
	assert_int_equal(len, 0);
}

/* Kafka's onGroupLoaded: a group loaded from its record with more
 * members than group.max.size (3 written, the size lowered to 2 since)
 * rebalances at once: its members hear REBALANCE_IN_PROGRESS, rejoin
 * with their member ids, and the one past the size is refused
 * GROUP_MAX_SIZE_REACHED and removed; the two taken back make the next
 * generation. */
static void test_loaded_over_max_size(void **state)
{
	struct brokerfx *f = *state;
	struct net_client *c2 = brokerfx_connect(f), *c3 = brokerfx_connect(f);
	struct join_args a = {
		.c = f->c, .v = 5, .group = "lo", .session_ms = 30000, .rebalance_ms = 20000
	};
	struct join_args b = a, c = a;
	struct sync_args sa = { .c = f->c, .v = 3, .group = "lo" };
	char am[256], bm[256], cm[256], line[256], logged[1 << 16];
	pthread_t tb, tc;
	int64_t end;

	b.c = c2;
	c.c = c3;
	join_call(&a);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	snprintf(am, sizeof(am), "%s", a.out.member);
	sa.member = a.member = am;
	sa.generation = a.out.generation;
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	assert_int_equal(pthread_create(&tb, NULL, join_thread, &b), 0);
	assert_int_equal(pthread_create(&tc, NULL, join_thread, &c), 0);
	end = now_mono_ms() + DEADLINE_MS;
	do
		describe_line(f, "lo", line, sizeof(line));
	while (!has_prefix_suffix(line, "PreparingRebalance ", " 3") && now_mono_ms() < end &&
	       !usleep(10000));
	assert_true(has_prefix_suffix(line, "PreparingRebalance ", " 3"));
	join_call(&a);
	assert_int_equal(pthread_join(tb, NULL), 0);
	assert_int_equal(pthread_join(tc, NULL), 0);
	assert_int_equal(a.out.generation, 2);
	assert_int_equal(a.out.n_members, 3);
	snprintf(bm, sizeof(bm), "%s", b.out.member);
	snprintf(cm, sizeof(cm), "%s", c.out.member);
	sa.generation = 2;
	sync_call(&sa); /* writes the record of generation 2, three members */
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	net_client_close(c2);
	net_client_close(c3);

	f->cfg.group_max_size = 2;
	reopen_logged(f, logged, sizeof(logged));
	assert_non_null(strstr(logged, "Kafka group lo: loaded Stable, generation 2"));
	c2 = brokerfx_connect(f);
	c3 = brokerfx_connect(f);
	a.c = f->c;
	b.c = c2;
	c.c = c3;
	assert_int_equal(heartbeat(f->c, 3, "lo", am, 2), PROTO_ERR_REBALANCE_IN_PROGRESS);
	b.member = bm;
	c.member = cm;
	assert_int_equal(pthread_create(&tb, NULL, join_thread, &b), 0);
	joins_parked_until(f->b->gc->kafka_arg, "lo", 1);
	assert_int_equal(pthread_create(&tc, NULL, join_thread, &c), 0);
	joins_parked_until(f->b->gc->kafka_arg, "lo", 2);
	join_call(&a);
	assert_int_equal(a.out.error, PROTO_ERR_GROUP_MAX_SIZE_REACHED);
	assert_string_equal(a.out.member, "");
	assert_int_equal(pthread_join(tb, NULL), 0);
	assert_int_equal(pthread_join(tc, NULL), 0);
	assert_int_equal(b.out.error, PROTO_ERR_NONE);
	assert_int_equal(c.out.error, PROTO_ERR_NONE);
	assert_int_equal(b.out.generation, 3);
	assert_int_equal(c.out.generation, 3);
	assert_int_equal(heartbeat(f->c, 3, "lo", am, 3), PROTO_ERR_UNKNOWN_MEMBER_ID);
	net_client_close(c2);
	net_client_close(c3);
}

/* Records a load cannot use: a GroupMetadata value that does not decode,
 * a key of no known kind, a record whose member id passes the bounds.
 * Each is one log line naming the group (or the partition); the other
 * groups of the partition load, and the offsets of the mount's group of
 * the same name too. */
static void test_metadata_bad_records(void **state)
{
	struct brokerfx *f = *state;
	static const uint8_t junk[] = { 0, 3, 0, 8, 'c', 'o' }, odd_key[] = { 0, 9, 1 };
	struct join_args j = {
		.c = f->c, .v = 5, .group = "good", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct sync_args s = { .c = f->c, .v = 3, .group = "good", .n = 1 };
	char member[256], logged[1 << 16], big[KG_ID_MAX + 2];
	struct group_meta_member gmm = { .instance_id = KSTR_NULL,
					 .client_id = kstr_of("c"),
					 .client_host = kstr_of("/h"),
					 .rebalance_timeout = 1000,
					 .session_timeout = 1000,
					 .subscription = kstr_of(""),
					 .assignment = kstr_of("") };
	struct group_meta gm = { .protocol_type = kstr_of("consumer"),
				 .generation = 1,
				 .protocol = kstr_of("range"),
				 .n_members = 1,
				 .members = &gmm };
	struct commit_part cp = { "t", 0, 3 };
	int64_t offs[2];
	int16_t err;
	struct kbuf_w w;
	size_t len;
	char *line;

	join_sync_one(&j, &s, member, sizeof(member), "a");
	/* An offset of the mount's group "good" of topic t, beside. */
	commit(f, 2, "good", j.out.generation, member, &cp, 1, &err);
	assert_int_equal(err, PROTO_ERR_NONE);

	/* "bad": a value cut short; "huge": a member id over KG_ID_MAX;
	 * and a key of version 9. */
	assert_int_equal(group_store_kafka(f->b->gc, "bad", junk, sizeof(junk)), 0);
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	gmm.member_id = kstr_of(big);
	gm.leader = kstr_of("m");
	kbuf_w_init(&w, 4096);
	group_meta_value_encode(&w, &gm);
	assert_int_equal(group_store_kafka(f->b->gc, "huge", w.buf, w.len), 0);
	kbuf_w_free(&w);
	line = group_meta_line(odd_key, sizeof(odd_key), junk, sizeof(junk), &len);
	assert_int_equal(group_store_append(f->b->gc, "good", line, len), 0);
	free(line);

	reopen_logged(f, logged, sizeof(logged));
	assert_non_null(strstr(logged, "the group metadata record of Kafka group bad cannot be "
				       "decoded"));
	assert_non_null(strstr(logged, "Kafka group huge: its metadata record not loaded: a member "
				       "id empty or too long"));
	assert_non_null(strstr(logged, "neither mqfs's nor a group metadata key"));
	assert_non_null(strstr(logged, "Kafka group good: loaded Stable"));
	assert_int_equal(heartbeat(f->c, 3, "good", member, j.out.generation), PROTO_ERR_NONE);
	assert_int_equal(heartbeat(f->c, 3, "huge", big, 1), PROTO_ERR_UNKNOWN_MEMBER_ID);
	fetch_offsets(f, 2, "good", false, offs);
	assert_int_equal(offs[0], 3);
}

/* How many of the lines of __consumer_offsets are group's metadata
 * records (its key escaped: the mark, then \x00\x02, the name's length). */
static int meta_lines(struct brokerfx *f, const char *group)
{
	static char buf[1 << 16];
	char prefix[300];
	int n = 0;

	buf[0] = '\n'; /* every line, the first too, follows a newline */
	brokerfx_offsets_text(f->b, group, buf + 1, sizeof(buf) - 1);
	snprintf(prefix, sizeof(prefix), "\n\\\\x00\\x02\\x00\\x%02x%s\t", (unsigned)strlen(group),
		 group);
	for (const char *p = buf; (p = strstr(p, prefix)); p++)
		n++;
	return n;
}

/* Compaction of __consumer_offsets keeps the last metadata record of a
 * group (one key per group, beside the mount's records of the same name,
 * which stay): after a cleaning the records of older generations are gone
 * and a reopen loads the last generation. */
static void test_metadata_compaction(void **state)
{
	struct brokerfx *f = *state;
	struct join_args j = {
		.c = f->c, .v = 5, .group = "cmp", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct sync_args s = { .c = f->c, .v = 3, .group = "cmp", .n = 1 };
	struct commit_part cp = { "t", 1, 7 };
	struct log_clean_stats cs;
	struct log *l;
	char member[256], logged[1 << 16], want[80];
	int64_t offs[2];
	int before, after;
	int16_t err;

	assert_int_equal(topic_config_write(f->b->gc->offsets, "segment.bytes=1024\n", 19), 0);
	join_call(&j);
	snprintf(member, sizeof(member), "%s", j.out.member);
	j.member = member;
	s.member = member;
	s.ids[0] = member;
	s.asg[0] = "a";
	for (int gen = 1; gen <= 12; gen++) {
		if (gen > 1)
			join_call(&j);
		assert_int_equal(j.out.error, PROTO_ERR_NONE);
		assert_int_equal(j.out.generation, gen);
		s.generation = gen;
		sync_call(&s);
		assert_int_equal(s.error, PROTO_ERR_NONE);
		if (gen == 1) {
			commit(f, 2, "cmp", 1, member, &cp, 1, &err);
			assert_int_equal(err, PROTO_ERR_NONE);
		}
	}
	before = meta_lines(f, "cmp");
	assert_int_equal(before, 12);
	/* The cleaner rewrites only below the checkpointed recovery point. */
	l = f->b->gc->offsets->parts[0]->log;
	assert_true(log_flush_closed(l) >= 0);
	assert_int_equal(logmgr_checkpoint(f->b->m), 0);
	memset(&cs, 0, sizeof(cs));
	assert_true(log_clean(l, engine_now_ms(), 1 << 20, true, &cs) >= 0);
	assert_true(cs.records_removed >= 10);
	after = meta_lines(f, "cmp");
	assert_true(after >= 1 && after < before);

	reopen_logged(f, logged, sizeof(logged));
	snprintf(want, sizeof(want), "Kafka group cmp: loaded Stable, generation 12,");
	assert_non_null(strstr(logged, want));
	assert_int_equal(heartbeat(f->c, 3, "cmp", member, 12), PROTO_ERR_NONE);
	fetch_offsets(f, 2, "cmp", false, offs);
	assert_int_equal(offs[1], 7);
}

/* A group's record longer than the replay's first buffer (256 KiB as a
 * line: an assignment of 300,000 bytes that each take four escaped) is
 * read whole and loaded. */
static void test_metadata_big_record(void **state)
{
	struct brokerfx *f = *state;
	size_t big = 300000;
	char *asg = malloc(big), logged[1 << 16];
	struct group_meta_member gmm = { .member_id = kstr_of("big-1"),
					 .instance_id = KSTR_NULL,
					 .client_id = kstr_of("c"),
					 .client_host = kstr_of("/h"),
					 .rebalance_timeout = 10000,
					 .session_timeout = 10000,
					 .subscription = kstr_of("s") };
	struct group_meta gm = { .protocol_type = kstr_of("consumer"),
				 .generation = 4,
				 .protocol = kstr_of("range"),
				 .leader = kstr_of("big-1"),
				 .n_members = 1,
				 .members = &gmm };
	struct kbuf_w w;

	assert_non_null(asg);
	memset(asg, 1, big);
	gmm.assignment = (struct kstr){ asg, (int32_t)big };
	kbuf_w_init(&w, 2 * big);
	group_meta_value_encode(&w, &gm);
	assert_int_equal(kbuf_w_err(&w), 0);
	assert_int_equal(group_store_kafka(f->b->gc, "big", w.buf, w.len), 0);
	kbuf_w_free(&w);
	free(asg);
	reopen_logged(f, logged, sizeof(logged));
	assert_non_null(strstr(logged, "Kafka group big: loaded Stable, generation 4"));
	assert_int_equal(heartbeat(f->c, 3, "big", "big-1", 4), PROTO_ERR_NONE);
}

/* The Kafka group ends when a consume file opens in its name (the mount's
 * group is the group then): its record says so (no members), and a
 * reopen loads no Kafka member beside the mount's group. */
static void test_metadata_dissolved(void **state)
{
	struct brokerfx *f = *state;
	struct join_args j = {
		.c = f->c, .v = 5, .group = "dg", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct sync_args s = { .c = f->c, .v = 3, .group = "dg", .n = 1 };
	char member[256], logged[1 << 16];
	struct group_member *m;
	struct group_meta gm;
	struct topic *t;
	struct group *g;

	join_sync_one(&j, &s, member, sizeof(member), "a");
	assert_int_equal(broker_topic_get(f->b, "t", &t), 0);
	assert_int_equal(group_open(t, "dg", GROUP_CREATE, &g), 0);
	assert_int_equal(group_join(g, getpid(), no_wake, NULL, &m), 0);
	assert_false(kafka_active(f, "dg"));
	wait_empty_record(f, "dg", &gm);
	group_meta_free(&gm);
	group_leave(m);
	group_put(g);
	topic_put(t);
	reopen_logged(f, logged, sizeof(logged));
	assert_null(strstr(logged, "Kafka group dg: loaded Stable"));
	assert_int_equal(heartbeat(f->c, 3, "dg", member, 1), PROTO_ERR_UNKNOWN_MEMBER_ID);
}

/* A loaded member's session starts when the group is loaded, not when it
 * was last heard before: a broker down for longer than the member's
 * session.timeout.ms loads it alive, and it then leaves after that
 * timeout without a request (the group Empty again). */
static void test_metadata_session_afresh(void **state)
{
	struct brokerfx *f = *state;
	struct join_args j = {
		.c = f->c, .v = 5, .group = "fresh", .session_ms = 1500, .rebalance_ms = 1500
	};
	struct sync_args s = { .c = f->c, .v = 3, .group = "fresh", .n = 1 };
	char member[256];
	int64_t t0, until;
	int16_t err;

	join_sync_one(&j, &s, member, sizeof(member), "a");
	brokerfx_close(f);
	/* Down for longer than the session. */
	t0 = now_mono_ms();
	while (now_mono_ms() < t0 + 1600)
		usleep(20000);
	brokerfx_open(f);
	assert_int_equal(heartbeat(f->c, 3, "fresh", member, 1), PROTO_ERR_NONE);
	assert_true(kafka_active(f, "fresh"));
	/* Then silent: it goes after its session timeout. */
	t0 = now_mono_ms();
	until = t0 + DEADLINE_MS;
	while (kafka_active(f, "fresh")) {
		assert_true(now_mono_ms() < until);
		usleep(20000);
	}
	assert_true(now_mono_ms() - t0 >= 1000);
	err = heartbeat(f->c, 3, "fresh", member, 1);
	assert_int_equal(err, PROTO_ERR_UNKNOWN_MEMBER_ID);
}

/* ---- An Empty group (its members left): Kafka's DeleteGroups ---- */

/* ListGroups v4: "ptype state" of id into out ("" when not listed). */
static void list_line(struct brokerfx *f, const char *id, char *out, size_t cap)
{
	struct proto_list_groups_req req = { 0 };
	struct proto_list_groups_resp r;
	struct net_resp raw;
	struct kbuf_w w;

	out[0] = '\0';
	kbuf_w_init(&w, 64);
	assert_int_equal(proto_list_groups_req_encode(&w, 4, &req), 0);
	brokerfx_call(f->c, PROTO_API_LIST_GROUPS, 4, &w, &raw);
	assert_int_equal(proto_list_groups_resp_decode(&raw.body, 4, &r), 0);
	for (int32_t i = 0; i < r.n_groups; i++)
		if (kstr_eq(r.groups[i].group_id, id))
			snprintf(out, cap, "%.*s %.*s", (int)r.groups[i].protocol_type.len,
				 r.groups[i].protocol_type.ptr, (int)r.groups[i].group_state.len,
				 r.groups[i].group_state.ptr);
	proto_list_groups_resp_free(&r);
	net_resp_free(&raw);
}

/* ---- OffsetDelete ---- */

/* OffsetDelete v0 of group: one topic entry per parts[i] (topic,
 * partition); the top-level error, each partition's into errs. */
static int16_t offset_delete(struct brokerfx *f, const char *group, const struct commit_part *parts,
			     int n, int16_t *errs)
{
	struct proto_offset_delete_topic t[8];
	int32_t p[8];
	struct proto_offset_delete_req req = { .group_id = kstr_of(group),
					       .n_topics = n,
					       .topics = t };
	struct proto_offset_delete_resp r;
	struct net_resp raw;
	struct kbuf_w w;
	int16_t err;

	for (int i = 0; i < n; i++) {
		p[i] = parts[i].partition;
		t[i] = (struct proto_offset_delete_topic){ .name = kstr_of(parts[i].topic),
							   .n_partitions = 1,
							   .partitions = &p[i] };
	}
	kbuf_w_init(&w, 1024);
	assert_int_equal(proto_offset_delete_req_encode(&w, 0, &req), 0);
	brokerfx_call(f->c, PROTO_API_OFFSET_DELETE, 0, &w, &raw);
	assert_int_equal(proto_offset_delete_resp_decode(&raw.body, 0, &r), 0);
	err = r.error_code;
	/* A group-level error is the whole answer, as Kafka's. */
	assert_int_equal(r.n_topics, err ? 0 : n);
	for (int i = 0; i < r.n_topics; i++) {
		assert_true(kstr_eq(r.topics[i].name, parts[i].topic));
		assert_int_equal(r.topics[i].n_partitions, 1);
		assert_int_equal(r.topics[i].partitions[0].partition_index, parts[i].partition);
		errs[i] = r.topics[i].partitions[0].error_code;
	}
	proto_offset_delete_resp_free(&r);
	net_resp_free(&raw);
	return err;
}

/* Whether the mount's group of topic keeps a committed offset of p (a
 * group the cleanup removed meanwhile keeps none). */
static bool offset_kept(struct brokerfx *f, const char *topic, const char *group, int p)
{
	struct topic *t;
	struct group *g;
	bool kept;
	int rc;

	assert_int_equal(broker_topic_get(f->b, topic, &t), 0);
	rc = group_open(t, group, 0, &g);
	if (rc == -ENOENT) {
		topic_put(t);
		return false;
	}
	assert_int_equal(rc, 0);
	pthread_mutex_lock(&g->mu);
	kept = p < g->nparts && g->parts[p].stored;
	pthread_mutex_unlock(&g->mu);
	group_put(g);
	topic_put(t);
	return kept;
}

/* OffsetDelete as Kafka's handleDeleteOffsets: an unknown group is
 * GROUP_ID_NOT_FOUND; an Empty group's offsets go (tombstones in
 * __consumer_offsets, so a restart does not bring them back: OffsetFetch
 * answers -1, the mount reads auto.offset.reset's start); unknown topics
 * and partitions answer UNKNOWN_TOPIC_OR_PARTITION; while Kafka
 * consumers subscribed to t are members, t's partitions are
 * GROUP_SUBSCRIBED_TO_TOPIC and another topic's offsets go; consume files
 * subscribe the group to their topic alike; Kafka members of another
 * protocol type: NON_EMPTY_GROUP. */
/* The empty group id "" as Kafka's GroupCoordinator.isValidGroupId takes
 * it: OffsetCommit (a simple consumer's, outside any generation),
 * OffsetFetch, DescribeGroups, DeleteGroups and FindCoordinator accept
 * it; JoinGroup, SyncGroup, Heartbeat, LeaveGroup and OffsetDelete
 * answer INVALID_GROUP_ID. Its offsets are kept across a restart like
 * any group's; ListGroups lists "" (no "t/"); the mount's .groups of t
 * lists no entry for it (no directory can be named ""). */
static void test_empty_group_id(void **state)
{
	struct brokerfx *f = *state;
	struct join_args j = {
		.c = f->c, .v = 5, .group = "", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct sync_args sa = { .c = f->c, .v = 3, .group = "", .member = "m", .generation = 1 };
	struct commit_part cp = { "t", 1, 7 };
	struct proto_find_coord_resp fc;
	struct net_resp raw;
	char line[128], **names = NULL;
	int64_t offs[2], o2[2][2];
	int16_t err;
	struct topic *t;
	int n = 0;

	find_coord(f, 3, PROTO_COORD_GROUP, "", &fc, &raw);
	assert_int_equal(fc.coordinators[0].error_code, PROTO_ERR_NONE);
	assert_int_equal(fc.coordinators[0].port, f->port);
	proto_find_coord_resp_free(&fc);
	net_resp_free(&raw);
	join_call(&j);
	assert_int_equal(j.out.error, PROTO_ERR_INVALID_GROUP_ID);
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_INVALID_GROUP_ID);
	assert_int_equal(heartbeat(f->c, 3, "", "m", 1), PROTO_ERR_INVALID_GROUP_ID);
	assert_int_equal(leave(f->c, 2, "", "m"), PROTO_ERR_INVALID_GROUP_ID);
	assert_int_equal(offset_delete(f, "", &cp, 1, &err), PROTO_ERR_INVALID_GROUP_ID);

	/* Nothing committed yet: -1, no error; nothing to delete. */
	fetch_offsets(f, 8, "", false, offs);
	assert_int_equal(offs[1], -1);
	describe_line(f, "", line, sizeof(line));
	assert_string_equal(line, "Dead '' '' 0");
	assert_int_equal(delete_group(f, ""), PROTO_ERR_GROUP_ID_NOT_FOUND);

	commit(f, 8, "", -1, "", &cp, 1, &err);
	assert_int_equal(err, PROTO_ERR_NONE);
	commit(f, 2, "", -1, "", &cp, 1, &err); /* an old client's too */
	assert_int_equal(err, PROTO_ERR_NONE);
	/* A generation is a member's: "" has none (Kafka's
	 * handleCommitOffsets for a group it does not have). */
	commit(f, 8, "", 3, "m", &cp, 1, &err);
	assert_int_equal(err, PROTO_ERR_ILLEGAL_GENERATION);
	for (int16_t v = 1; v <= 8; v += 7) {
		fetch_offsets(f, v, "", false, offs);
		assert_int_equal(offs[0], -1);
		assert_int_equal(offs[1], 7);
	}
	describe_line(f, "", line, sizeof(line));
	/* Kafka describes and lists a group of simple consumers' commits
	 * with no protocol type nor protocol. */
	assert_string_equal(line, "Empty '' '' 0");
	list_line(f, "", line, sizeof(line));
	assert_string_equal(line, " Empty");
	list_line(f, "t/", line, sizeof(line));
	assert_string_equal(line, "");
	assert_int_equal(broker_topic_get(f->b, "t", &t), 0);
	assert_int_equal(group_list(t, &names, NULL, &n), 0);
	assert_int_equal(n, 0);
	broker_names_free(names, n);
	topic_put(t);

	brokerfx_close(f);
	brokerfx_open(f);
	assert_int_equal(fetch_of(f, 8, "", NULL, o2), PROTO_ERR_NONE);
	assert_int_equal(o2[0][1], 7);
	assert_int_equal(delete_group(f, ""), PROTO_ERR_NONE);
	fetch_offsets(f, 8, "", false, offs);
	assert_int_equal(offs[1], -1);
	assert_int_equal(delete_group(f, ""), PROTO_ERR_GROUP_ID_NOT_FOUND);
}

/* OffsetFetch of every topic (null topics) right after a restart lists
 * the offsets the replay brought back, before anything opened the group
 * (the replay's groups are bound to their topic at their first lookup). */
static void test_fetch_all_after_restart(void **state)
{
	struct brokerfx *f = *state;
	struct commit_part cm[] = { { "t", 0, 5 }, { "t", 1, 7 } };
	int16_t errs[2];
	int64_t offs[2];

	commit(f, 2, "rs", -1, "", cm, 2, errs);
	assert_int_equal(errs[0] | errs[1], PROTO_ERR_NONE);
	brokerfx_close(f);
	brokerfx_open(f);
	fetch_offsets(f, 7, "rs", true, offs);
	assert_int_equal(offs[0], 5);
	assert_int_equal(offs[1], 7);
	/* and again, the group bound now */
	fetch_offsets(f, 2, "rs", true, offs);
	assert_int_equal(offs[0], 5);
	assert_int_equal(offs[1], 7);
}

/* OffsetCommit's metadata string is kept with the offset, as Kafka's
 * OffsetAndMetadata: OffsetFetch answers it in every version, "" when
 * none (a null one, a partition never committed, a mount commit after
 * it), byte for byte (spaces, newline, '%', '\\', UTF-8); across
 * a restart (its record); offset.metadata.max.bytes (4096) counts
 * UTF-16 units as Java's String.length(): 4096 of them pass whatever
 * their bytes, one more is OFFSET_METADATA_TOO_LARGE for that partition
 * alone. A record without the field (an older one) loads with "". */
static void test_commit_metadata(void **state)
{
	struct brokerfx *f = *state;
	static const char odd[] = "a b\n%41\\\t\xc3\xa9 end";
	char md[16384], big[16384];
	size_t len;

	assert_int_equal(commit_md(f, 2, "md", 0, 5, "checkpoint-7", 12, -1, -1), PROTO_ERR_NONE);
	assert_int_equal(commit_md(f, 8, "md", 1, 6, NULL, 0, -1, -1), PROTO_ERR_NONE);
	for (int16_t v = 0; v <= 8; v++) {
		assert_int_equal(fetch_md(f, v, "md", 0, md, sizeof(md), &len), 5);
		assert_string_equal(md, "checkpoint-7");
		assert_int_equal(fetch_md(f, v, "md", 1, md, sizeof(md), &len), 6);
		assert_string_equal(md, "");
	}
	assert_int_equal(fetch_md(f, 3, "none", 0, md, sizeof(md), &len), -1);
	assert_string_equal(md, "");

	assert_int_equal(commit_md(f, 1, "md", 1, 7, odd, sizeof(odd) - 1, -1, -1), PROTO_ERR_NONE);
	brokerfx_close(f);
	brokerfx_open(f);
	assert_int_equal(fetch_md(f, 5, "md", 1, md, sizeof(md), &len), 7);
	assert_int_equal(len, sizeof(odd) - 1);
	assert_memory_equal(md, odd, len);
	assert_int_equal(fetch_md(f, 5, "md", 0, md, sizeof(md), &len), 5);
	assert_string_equal(md, "checkpoint-7");

	/* 4096 units: three-byte characters (12288 bytes), then surrogate
	 * pairs (four bytes, two units each); one unit more is too large. */
	for (int i = 0; i < 4096; i++)
		memcpy(big + 3 * i, "\xe2\x82\xac", 3);
	assert_int_equal(commit_md(f, 7, "md", 0, 8, big, 3 * 4096, -1, -1), PROTO_ERR_NONE);
	assert_int_equal(fetch_md(f, 7, "md", 0, md, sizeof(md), &len), 8);
	assert_int_equal(len, 3 * 4096);
	assert_memory_equal(md, big, len);
	for (int i = 0; i < 2048; i++)
		memcpy(big + 4 * i, "\xf0\x9f\x98\x80", 4);
	assert_int_equal(commit_md(f, 7, "md", 0, 9, big, 4 * 2048, -1, -1), PROTO_ERR_NONE);
	big[4 * 2048] = 'x';
	assert_int_equal(commit_md(f, 7, "md", 0, 10, big, 4 * 2048 + 1, -1, -1),
			 PROTO_ERR_OFFSET_METADATA_TOO_LARGE);
	memset(big, 'y', 4097);
	assert_int_equal(commit_md(f, 7, "md", 0, 10, big, 4097, -1, -1),
			 PROTO_ERR_OFFSET_METADATA_TOO_LARGE);
	assert_int_equal(fetch_md(f, 7, "md", 0, md, sizeof(md), &len), 9);
	assert_int_equal(len, 4 * 2048);

	/* A commit through the mount has none. */
	assert_int_equal(mount_reset(f, "md", 0, "0"), 0);
	assert_int_equal(fetch_md(f, 7, "md", 0, md, sizeof(md), &len), 0);
	assert_string_equal(md, "");

	/* An older record: offset, timestamp, member, nothing after. */
	{
		static const char old[] = "md/t/0\t11 1700000000000 consumer-1\n";

		assert_int_equal(group_store_append(f->b->gc, "md", old, sizeof(old) - 1), 0);
		brokerfx_close(f);
		brokerfx_open(f);
		assert_int_equal(fetch_md(f, 7, "md", 0, md, sizeof(md), &len), 11);
		assert_string_equal(md, "");
		assert_int_equal(fetch_md(f, 7, "md", 1, md, sizeof(md), &len), 7);
		assert_memory_equal(md, odd, sizeof(odd) - 1);
	}
}

/* The epochs "ep" holds after test_commit_epoch's commits, as OffsetFetch
 * version v answers them for ask (a topic, NULL: all) under id. */
static void check_epochs(struct brokerfx *f, int16_t v, const char *id, const char *ask)
{
	static const int32_t want[2][2] = { { 7, -1 }, { -5, -1 } };
	int64_t offs[2][2];
	int32_t ep[2][2];

	assert_int_equal(fetch_epochs(f, v, id, ask, offs, ep), PROTO_ERR_NONE);
	for (int ti = 0; ti < 2; ti++) {
		bool asked = ask ? !strcmp(ask, ti ? "u" : "t") : !strchr(id, '/') || ti == 0;

		for (int p = 0; p < 2; p++) {
			if (!asked) {
				assert_int_equal(ep[ti][p], INT32_MIN);
				continue;
			}
			assert_int_equal(offs[ti][p], 5 + 2 * ti + p);
			assert_int_equal(ep[ti][p], v >= 5 ? want[ti][p] : -1);
		}
	}
}

/* OffsetCommit v6+'s committed_leader_epoch is kept with the offset, as
 * Kafka's OffsetAndMetadata.leaderEpoch, and OffsetFetch v5+ answers it
 * (older versions have no field) for partitions asked, all topics and a
 * "<topic>/G" id alike: -1 is none, any other value (a negative one too)
 * kept as given (Kafka's ofSentinel); a v5 commit has none whatever its
 * caller meant. Across a restart (its record); a later commit without
 * one, a mount reset and an older record without the field leave none. */
static void test_commit_epoch(void **state)
{
	struct brokerfx *f = *state;
	int64_t offs[2][2];
	int32_t ep[2][2];

	assert_int_equal(broker_topic_create(f->b, "u", 0, 0, 0755, NULL), 0);
	assert_int_equal(commit_epoch(f, 8, "ep", "t", 0, 5, 7), PROTO_ERR_NONE);
	assert_int_equal(commit_epoch(f, 5, "ep", "t", 1, 6, 9), PROTO_ERR_NONE);
	assert_int_equal(commit_epoch(f, 6, "ep", "u", 0, 7, -5), PROTO_ERR_NONE);
	assert_int_equal(commit_epoch(f, 7, "ep", "u", 1, 8, -1), PROTO_ERR_NONE);
	for (int16_t v = 0; v <= 8; v++) {
		check_epochs(f, v, "ep", "t");
		check_epochs(f, v, "ep", "u");
		if (v >= 2)
			check_epochs(f, v, "ep", NULL);
	}
	check_epochs(f, 5, "t/ep", NULL);
	check_epochs(f, 8, "t/ep", "t");

	brokerfx_close(f);
	brokerfx_open(f);
	check_epochs(f, 8, "ep", NULL);
	check_epochs(f, 6, "ep", "u");

	assert_int_equal(commit_epoch(f, 4, "ep", "t", 0, 9, 3), PROTO_ERR_NONE);
	assert_int_equal(fetch_epochs(f, 8, "ep", "t", offs, ep), PROTO_ERR_NONE);
	assert_int_equal(offs[0][0], 9);
	assert_int_equal(ep[0][0], -1);
	assert_int_equal(commit_epoch(f, 8, "ep", "t", 0, 10, 12), PROTO_ERR_NONE);
	assert_int_equal(mount_reset(f, "ep", 0, "0"), 0);
	assert_int_equal(fetch_epochs(f, 8, "ep", "t", offs, ep), PROTO_ERR_NONE);
	assert_int_equal(offs[0][0], 0);
	assert_int_equal(ep[0][0], -1);

	/* An older record: offset, timestamp, member, nothing after. */
	{
		static const char old[] = "ep/u/0\t11 1700000000000 consumer-1\n";

		assert_int_equal(group_store_append(f->b->gc, "ep", old, sizeof(old) - 1), 0);
		brokerfx_close(f);
		brokerfx_open(f);
		assert_int_equal(fetch_epochs(f, 8, "ep", "u", offs, ep), PROTO_ERR_NONE);
		assert_int_equal(offs[1][0], 11);
		assert_int_equal(ep[1][0], -1);
	}
}

/* A consume file's commit carries the leader epoch of the last record it
 * read (offset - 1), as Kafka's consumer commits it: the log's epoch cache
 * has it (epoch 0 from the start on one node), not the cache's latest
 * (an epoch 4 starting at the log end here, as a new leader's). */
static void test_consume_commit_epoch(void **state)
{
	struct brokerfx *f = *state;
	struct group_member *m;
	struct topic *t;
	struct group *g;
	struct log *l;
	int64_t offs[2][2];
	int32_t ep[2][2];
	char buf[64];

	assert_int_equal(broker_topic_get(f->b, "t", &t), 0);
	assert_int_equal(topic_produce(t, 0, "a\nb\nc\n", 6, 0), 0);
	assert_int_equal(group_part_lock(t, 0, &l), 0);
	assert_non_null(l);
	assert_int_equal(log_assign_epoch(l, 4, 3), 0);
	pthread_rwlock_unlock(&t->lock);
	assert_int_equal(group_open(t, "ce", GROUP_CREATE, &g), 0);
	assert_int_equal(group_join(g, getpid(), no_wake, NULL, &m), 0);
	assert_int_equal(group_consume(m, 0, buf, sizeof(buf)), 6);
	assert_int_equal(group_consume(m, 2, buf, sizeof(buf)), 4);
	assert_int_equal(fetch_epochs(f, 8, "ce", "t", offs, ep), PROTO_ERR_NONE);
	assert_int_equal(offs[0][0], 1);
	assert_int_equal(ep[0][0], 0);
	assert_int_equal(group_consume(m, 6, buf, sizeof(buf)), 0);
	assert_int_equal(fetch_epochs(f, 8, "ce", "t", offs, ep), PROTO_ERR_NONE);
	assert_int_equal(offs[0][0], 3);
	assert_int_equal(ep[0][0], 0);
	group_leave(m);
	group_put(g);
	topic_put(t);
}

/* ListGroups lists the mount group G of topic T as "T/G" (beside Kafka's
 * "G"), and the admin APIs take that id; so do OffsetFetch, what
 * kafka-consumer-groups.sh --describe and kafka-python's
 * list_consumer_group_offsets ask of a listed group (T's offsets of G
 * alone, none of G's other topics), and OffsetCommit, what --reset-offsets
 * sends. */
static void test_scoped_group_offsets(void **state)
{
	struct brokerfx *f = *state;
	struct commit_part cm[] = { { "t", 0, 5 }, { "t", 1, 7 }, { "u", 0, 3 } };
	int16_t errs[3];
	int64_t offs[2][2];

	assert_int_equal(broker_topic_create(f->b, "u", 0, 0, 0755, NULL), 0);
	commit(f, 2, "sc", -1, "", cm, 3, errs);
	assert_int_equal(errs[0] | errs[1] | errs[2], PROTO_ERR_NONE);

	/* Kafka's "sc": both topics. */
	assert_int_equal(fetch_of(f, 7, "sc", NULL, offs), PROTO_ERR_NONE);
	assert_int_equal(offs[0][0], 5);
	assert_int_equal(offs[0][1], 7);
	assert_int_equal(offs[1][0], 3);
	/* "t/sc": every committed partition of t's group, u's not listed. */
	for (int16_t v = 2; v <= 8; v++) {
		assert_int_equal(fetch_of(f, v, "t/sc", NULL, offs), PROTO_ERR_NONE);
		assert_int_equal(offs[0][0], 5);
		assert_int_equal(offs[0][1], 7);
		assert_int_equal(offs[1][0], NOT_LISTED);
		assert_int_equal(offs[1][1], NOT_LISTED);
	}
	assert_int_equal(fetch_of(f, 3, "u/sc", NULL, offs), PROTO_ERR_NONE);
	assert_int_equal(offs[0][0], NOT_LISTED);
	assert_int_equal(offs[1][0], 3);
	assert_int_equal(offs[1][1], NOT_LISTED);
	/* Partitions asked: the group's topic as committed, another none. */
	for (int16_t v = 1; v <= 8; v++) {
		assert_int_equal(fetch_of(f, v, "t/sc", "t", offs), PROTO_ERR_NONE);
		assert_int_equal(offs[0][0], 5);
		assert_int_equal(offs[0][1], 7);
		assert_int_equal(fetch_of(f, v, "u/sc", "t", offs), PROTO_ERR_NONE);
		assert_int_equal(offs[0][0], -1);
		assert_int_equal(offs[0][1], -1);
	}
	/* OffsetCommit of "t/sc", as an admin's reset of a listed group
	 * sends it (no generation, no member id): t's group alone, u not
	 * its topic. A member's commit goes under the group's own id. */
	{
		struct commit_part reset[] = { { "t", 0, 2 }, { "u", 0, 9 } };
		int16_t e2[2];

		commit(f, 7, "t/sc", -1, "", reset, 2, e2);
		assert_int_equal(e2[0], PROTO_ERR_NONE);
		assert_int_equal(e2[1], PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		assert_int_equal(fetch_of(f, 7, "sc", NULL, offs), PROTO_ERR_NONE);
		assert_int_equal(offs[0][0], 2);
		assert_int_equal(offs[0][1], 7);
		assert_int_equal(offs[1][0], 3);
		assert_int_equal(mount_offset(f, "sc", 0), 2);
		commit(f, 7, "t/sc", 0, "", reset, 1, e2);
		assert_int_equal(e2[0], PROTO_ERR_INVALID_GROUP_ID);
		commit(f, 7, "t/sc", -1, "someone", reset, 1, e2);
		assert_int_equal(e2[0], PROTO_ERR_INVALID_GROUP_ID);
		commit(f, 2, "t/", -1, "", reset, 1, e2);
		assert_int_equal(e2[0], PROTO_ERR_INVALID_GROUP_ID);
		/* it may make the group: mkdir's name rules */
		commit(f, 2, "t/.dot", -1, "", reset, 1, e2);
		assert_int_equal(e2[0], PROTO_ERR_INVALID_GROUP_ID);
		commit(f, 2, "t/__x", -1, "", reset, 1, e2);
		assert_int_equal(e2[0], PROTO_ERR_INVALID_GROUP_ID);
		assert_int_equal(mount_offset(f, "sc", 0), 2);
	}
	/* Neither form: refused as before. */
	assert_int_equal(fetch_of(f, 7, "t/", NULL, offs), PROTO_ERR_INVALID_GROUP_ID);
	assert_int_equal(fetch_of(f, 7, "no pe/sc", NULL, offs), PROTO_ERR_INVALID_GROUP_ID);
	assert_int_equal(fetch_of(f, 7, "t/sc/x", NULL, offs), PROTO_ERR_INVALID_GROUP_ID);
}

/* OffsetFetch v0 and v1 have no group error code: Kafka puts a group's
 * error on every partition asked, offset -1. Left out, the answer reads
 * as "nothing committed" and an old client (kafka-python with an
 * api_version below 0.10.2) resets its position where it should find the
 * coordinator again and retry. */
static void test_fetch_group_error_v0(void **state)
{
	struct brokerfx *f = *state;
	int64_t offs[2][2];

	for (int16_t v = 0; v <= 8; v++) {
		assert_int_equal(fetch_of(f, v, "a b", "t", offs), PROTO_ERR_INVALID_GROUP_ID);
		if (v < 2) {
			assert_int_equal(offs[0][0], -1);
			assert_int_equal(offs[0][1], -1);
		}
	}
	assert_int_equal(fetch_of(f, 1, ".x", "t", offs), PROTO_ERR_INVALID_GROUP_ID);
	assert_int_equal(offs[0][1], -1);
	/* a well-named group: no error, -1 for none committed */
	assert_int_equal(fetch_of(f, 0, "fresh", "t", offs), PROTO_ERR_NONE);
	assert_int_equal(offs[0][0], -1);
}

static void test_offset_delete(void **state)
{
	struct brokerfx *f = *state;
	static const char lines[] = "1\n2\n3\n4\n5\n6\n7\n8\n";
	struct commit_part cm[] = { { "t", 0, 5 }, { "t", 1, 7 }, { "u", 0, 3 } };
	struct commit_part del[] = { { "t", 0, 0 }, { "t", 9, 0 }, { "nope", 0, 0 } };
	struct commit_part t1[] = { { "t", 1, 0 }, { "u", 0, 0 } };
	struct join_args j = {
		.c = f->c, .v = 5, .group = "od", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct sync_args s = { .c = f->c, .v = 3, .group = "od", .n = 1 };
	static char text[1 << 16];
	char member[256];
	int16_t errs[3];
	int64_t offs[2];
	struct topic *t;

	assert_int_equal(broker_topic_create(f->b, "u", 0, 0, 0755, NULL), 0);
	assert_int_equal(broker_topic_get(f->b, "t", &t), 0);
	assert_int_equal(topic_produce(t, 0, lines, sizeof(lines) - 1, 0), 0);
	topic_put(t);

	assert_int_equal(offset_delete(f, "never", del, 1, errs), PROTO_ERR_GROUP_ID_NOT_FOUND);
	assert_int_equal(offset_delete(f, "t/never", del, 1, errs), PROTO_ERR_GROUP_ID_NOT_FOUND);
	assert_int_equal(offset_delete(f, "a/b/c", del, 1, errs), PROTO_ERR_INVALID_GROUP_ID);
	assert_int_equal(offset_delete(f, "", del, 1, errs), PROTO_ERR_INVALID_GROUP_ID);

	/* Empty: the partitions asked lose their offsets, the others keep
	 * theirs. */
	commit(f, 2, "od", -1, "", cm, 3, errs);
	assert_int_equal(errs[0] | errs[1] | errs[2], PROTO_ERR_NONE);
	assert_int_equal(mount_offset(f, "od", 0), 5);
	assert_int_equal(offset_delete(f, "od", del, 3, errs), PROTO_ERR_NONE);
	assert_int_equal(errs[0], PROTO_ERR_NONE);
	assert_int_equal(errs[1], PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_int_equal(errs[2], PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	fetch_offsets(f, 7, "od", false, offs);
	assert_int_equal(offs[0], -1);
	assert_int_equal(offs[1], 7);
	/* The mount's group reads as one never committed: the log start
	 * (auto.offset.reset=earliest). */
	assert_int_equal(mount_offset(f, "od", 0), 0);
	assert_false(offset_kept(f, "t", "od", 0));
	/* Kafka's offset removal record: the commit's key, no value. */
	brokerfx_offsets_text(f->b, "od", text, sizeof(text));
	assert_non_null(strstr(text, "od/t/0\t\n"));
	/* Again: nothing to remove, NONE (Kafka's removeOffsets). */
	assert_int_equal(offset_delete(f, "od", del, 1, errs), PROTO_ERR_NONE);
	assert_int_equal(errs[0], PROTO_ERR_NONE);

	/* The tombstone holds across a restart (the replay). */
	brokerfx_close(f);
	brokerfx_open(f);
	fetch_offsets(f, 7, "od", false, offs);
	assert_int_equal(offs[0], -1);
	assert_int_equal(offs[1], 7);
	assert_int_equal(mount_offset(f, "od", 0), 0);
	assert_false(offset_kept(f, "t", "od", 0));
	assert_true(offset_kept(f, "t", "od", 1));
	/* (u's group is left as the replay made it: not looked at since.) */

	/* A Kafka consumer subscribed to t: t's partitions are refused, u's
	 * offset goes. */
	j.c = s.c = f->c; /* the reopened broker's connection */
	join_sync_one(&j, &s, member, sizeof(member), "a");
	assert_int_equal(offset_delete(f, "od", t1, 2, errs), PROTO_ERR_NONE);
	assert_int_equal(errs[0], PROTO_ERR_GROUP_SUBSCRIBED_TO_TOPIC);
	assert_int_equal(errs[1], PROTO_ERR_NONE);
	assert_true(offset_kept(f, "t", "od", 1));
	assert_false(offset_kept(f, "u", "od", 0));
	assert_int_equal(offset_delete(f, "t/od", t1, 1, errs), PROTO_ERR_NONE);
	assert_int_equal(errs[0], PROTO_ERR_GROUP_SUBSCRIBED_TO_TOPIC);
	assert_int_equal(leave(f->c, 3, "od", member), PROTO_ERR_NONE);

	/* A consume file of t's group: the same, through the scoped id too. */
	{
		struct group_member *m;
		struct group *g;

		assert_int_equal(broker_topic_get(f->b, "t", &t), 0);
		assert_int_equal(group_open(t, "od", 0, &g), 0);
		assert_int_equal(group_join(g, getpid(), no_wake, NULL, &m), 0);
		assert_int_equal(offset_delete(f, "od", t1, 1, errs), PROTO_ERR_NONE);
		assert_int_equal(errs[0], PROTO_ERR_GROUP_SUBSCRIBED_TO_TOPIC);
		assert_int_equal(offset_delete(f, "t/od", t1, 1, errs), PROTO_ERR_NONE);
		assert_int_equal(errs[0], PROTO_ERR_GROUP_SUBSCRIBED_TO_TOPIC);
		assert_true(offset_kept(f, "t", "od", 1));
		group_leave(m);
		group_put(g);
		topic_put(t);
	}
	/* Empty again: the scoped id deletes t's. */
	assert_int_equal(offset_delete(f, "t/od", t1, 1, errs), PROTO_ERR_NONE);
	assert_int_equal(errs[0], PROTO_ERR_NONE);
	assert_false(offset_kept(f, "t", "od", 1));
	fetch_offsets(f, 7, "od", false, offs);
	assert_int_equal(offs[1], -1);

	/* Members of another protocol type. */
	{
		struct join_args jc = { .c = f->c,
					.v = 5,
					.group = "cx",
					.ptype = "connect",
					.session_ms = 10000,
					.rebalance_ms = 10000 };

		join_call(&jc);
		assert_int_equal(jc.out.error, PROTO_ERR_NONE);
		assert_int_equal(offset_delete(f, "cx", del, 1, errs), PROTO_ERR_NON_EMPTY_GROUP);
		assert_int_equal(leave(f->c, 3, "cx", jc.out.member), PROTO_ERR_NONE);
	}
}

/* A group whose member left, without committed offsets, is Empty, not
 * gone (Kafka keeps it until its offsets cleanup): ListGroups lists it
 * and DescribeGroups describes it Empty, with its protocol type and no
 * protocol; DeleteGroups answers NONE, writes its tombstone (a reopen
 * loads nothing of it) and the group is Dead: a second DeleteGroups is
 * GROUP_ID_NOT_FOUND, as for a group that never was; one with a member
 * is NON_EMPTY_GROUP. */
static void test_empty_group_deleted(void **state)
{
	struct brokerfx *f = *state;
	struct join_args j = {
		.c = f->c, .v = 5, .group = "eg", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct sync_args s = { .c = f->c, .v = 3, .group = "eg", .n = 1 };
	char member[256], line[300], logged[1 << 16];
	struct group_meta gm;
	size_t len = 1;

	assert_int_equal(delete_group(f, "never"), PROTO_ERR_GROUP_ID_NOT_FOUND);
	join_sync_one(&j, &s, member, sizeof(member), "a");
	assert_int_equal(delete_group(f, "eg"), PROTO_ERR_NON_EMPTY_GROUP);
	assert_int_equal(leave(f->c, 3, "eg", member), PROTO_ERR_NONE);
	wait_empty_record(f, "eg", &gm);
	group_meta_free(&gm);

	list_line(f, "eg", line, sizeof(line));
	assert_string_equal(line, "consumer Empty");
	describe_line(f, "eg", line, sizeof(line));
	assert_string_equal(line, "Empty 'consumer' '' 0");
	/* Kept across a reopen, as Kafka's loading keeps it. */
	reopen_logged(f, logged, sizeof(logged));
	assert_non_null(strstr(logged, "Kafka group eg: loaded Empty, generation 2"));
	describe_line(f, "eg", line, sizeof(line));
	assert_string_equal(line, "Empty 'consumer' '' 0");

	assert_int_equal(delete_group(f, "eg"), PROTO_ERR_NONE);
	assert_null(meta_record(f, "eg", &len));
	assert_int_equal(len, 0); /* a tombstone, not no record */
	describe_line(f, "eg", line, sizeof(line));
	assert_string_equal(line, "Dead '' '' 0");
	list_line(f, "eg", line, sizeof(line));
	assert_string_equal(line, "");
	assert_int_equal(delete_group(f, "eg"), PROTO_ERR_GROUP_ID_NOT_FOUND);
	reopen_logged(f, logged, sizeof(logged));
	assert_null(strstr(logged, "Kafka group eg: loaded"));
	assert_int_equal(delete_group(f, "eg"), PROTO_ERR_GROUP_ID_NOT_FOUND);
}

static int setup_cleanup(void **state)
{
	struct brokerfx *f;

	brokerfx_setup(state, "gserve",
		       "num.partitions=2\ngroup.min.session.timeout.ms=100\n"
		       "offsets.retention.check.interval.ms=200\n");
	f = *state;
	assert_int_equal(broker_topic_create(f->b, "t", 0, 0, 0755, NULL), 0);
	return 0;
}

/* gs's pending members of all groups, under gs->mu. */
/* Kafka's requireKnownMemberId (KIP-394): a JoinGroup v4+ of a dynamic
 * member without a member id gets one with MEMBER_ID_REQUIRED, and is a
 * member only once it brings it back; until then its id is no member's
 * (Heartbeat: UNKNOWN_MEMBER_ID), a LeaveGroup forgets it, and so does
 * its session timeout. v3 and a static member join at once. */
static void test_member_id_required(void **state)
{
	struct brokerfx *f = *state;
	struct group_serve *gs = f->b->gc->kafka_arg;
	struct join_args a = { .c = f->c,
			       .v = 5,
			       .group = "mid",
			       .session_ms = 10000,
			       .rebalance_ms = 10000,
			       .once = true };
	struct join_args x = a;
	char id[256];
	int64_t end;

	join_call(&a);
	assert_int_equal(a.out.error, PROTO_ERR_MEMBER_ID_REQUIRED);
	assert_int_equal(a.out.generation, -1);
	assert_true(a.out.member[0] != '\0');
	snprintf(id, sizeof(id), "%s", a.out.member);
	assert_int_equal(heartbeat(f->c, 3, "mid", id, 0), PROTO_ERR_UNKNOWN_MEMBER_ID);
	a.member = id;
	join_call(&a);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	assert_string_equal(a.out.member, id);
	assert_int_equal(a.out.generation, 1);

	x.group = "mid3";
	x.v = 3;
	join_call(&x);
	assert_int_equal(x.out.error, PROTO_ERR_NONE);
	x.group = "mids";
	x.v = 5;
	x.instance = "i1";
	join_call(&x);
	assert_int_equal(x.out.error, PROTO_ERR_NONE);

	/* Forgotten by a LeaveGroup, or after its session timeout. */
	x.group = "midl";
	x.instance = NULL;
	join_call(&x);
	assert_int_equal(x.out.error, PROTO_ERR_MEMBER_ID_REQUIRED);
	snprintf(id, sizeof(id), "%s", x.out.member);
	assert_int_equal(leave(f->c, 3, "midl", id), PROTO_ERR_NONE);
	x.member = id;
	join_call(&x);
	assert_int_equal(x.out.error, PROTO_ERR_UNKNOWN_MEMBER_ID);
	x.member = NULL;
	x.session_ms = 300;
	join_call(&x);
	assert_int_equal(x.out.error, PROTO_ERR_MEMBER_ID_REQUIRED);
	snprintf(id, sizeof(id), "%s", x.out.member);
	end = now_mono_ms() + DEADLINE_MS;
	while (npending(gs) > 0 && now_mono_ms() < end)
		usleep(10000);
	assert_int_equal(npending(gs), 0);
	x.member = id;
	join_call(&x);
	assert_int_equal(x.out.error, PROTO_ERR_UNKNOWN_MEMBER_ID);
}

/* setup's broker with the settings conf added, and topic t. */
static int setup_conf(void **state, const char *conf)
{
	char text[512];
	struct brokerfx *f;

	snprintf(text, sizeof(text), "num.partitions=2\ngroup.min.session.timeout.ms=100\n%s",
		 conf);
	brokerfx_setup(state, "gserve", text);
	f = *state;
	assert_int_equal(broker_topic_create(f->b, "t", 0, 0, 0755, NULL), 0);
	return 0;
}

static int setup_max_size(void **state)
{
	return setup_conf(state, "group.max.size=2\n");
}

/* group.max.size (2), as Kafka's acceptJoiningMember: a third member is
 * refused GROUP_MAX_SIZE_REACHED (no member id) while the group is
 * Stable; while it rebalances, the count is of members that rejoined,
 * so a new member may take the place of one that has not rejoined yet,
 * which is then refused and removed when it comes. */
static void test_group_max_size(void **state)
{
	struct brokerfx *f = *state;
	struct net_client *c1 = brokerfx_connect(f), *c2 = brokerfx_connect(f);
	struct net_client *c3 = brokerfx_connect(f);
	struct join_args a = {
		.c = c1, .v = 5, .group = "mx", .session_ms = 30000, .rebalance_ms = 10000
	};
	struct join_args b = a, c = a;
	struct sync_args sa = { .c = c1, .v = 3, .group = "mx" };
	struct sync_args sb = { .c = c2, .v = 3, .group = "mx" };
	char line[256];
	int64_t end;
	pthread_t ta, tc;

	b.c = c2;
	c.c = c3;
	join_pair(&a, &b, &sa);
	sync_call(&sa);
	assert_int_equal(sa.error, PROTO_ERR_NONE);
	sb.member = b.out.member;
	sb.generation = b.out.generation;
	sync_call(&sb);
	assert_int_equal(sb.error, PROTO_ERR_NONE);
	join_call(&c);
	assert_int_equal(c.out.error, PROTO_ERR_GROUP_MAX_SIZE_REACHED);
	assert_string_equal(c.out.member, "");

	/* The leader rejoins: PreparingRebalance, one member rejoined. */
	assert_int_equal(pthread_create(&ta, NULL, join_thread, &a), 0);
	heartbeat_until(c2, "mx", b.out.member, 2, PROTO_ERR_REBALANCE_IN_PROGRESS);
	assert_int_equal(pthread_create(&tc, NULL, join_thread, &c), 0);
	end = now_mono_ms() + DEADLINE_MS;
	/* C waits too: three members, two rejoined. */
	do
		describe_line(f, "mx", line, sizeof(line));
	while (!has_prefix_suffix(line, "PreparingRebalance ", " 3") && now_mono_ms() < end &&
	       !usleep(10000));
	assert_true(has_prefix_suffix(line, "PreparingRebalance ", " 3"));
	b.member = b.out.member;
	join_call(&b);
	assert_int_equal(b.out.error, PROTO_ERR_GROUP_MAX_SIZE_REACHED);
	assert_string_equal(b.out.member, "");
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tc, NULL), 0);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	assert_int_equal(c.out.error, PROTO_ERR_NONE);
	assert_int_equal(a.out.generation, 3);
	assert_int_equal(c.out.generation, 3);
	assert_int_equal(a.out.n_members, 2);
	assert_int_equal(heartbeat(c2, 3, "mx", b.member, 3), PROTO_ERR_UNKNOWN_MEMBER_ID);

	/* A member id handed out (MEMBER_ID_REQUIRED) while the group had
	 * room, brought back once it has none: refused, and the id is
	 * forgotten, as Kafka's group.remove forgets a pending member. */
	assert_int_equal(leave(c1, 3, "mx", a.out.member), PROTO_ERR_NONE);
	b.member = NULL;
	b.once = true;
	join_call(&b);
	assert_int_equal(b.out.error, PROTO_ERR_MEMBER_ID_REQUIRED);
	assert_int_equal(npending(f->b->gc->kafka_arg), 1);
	a.member = NULL;
	a.v = 3; /* joins at once */
	assert_int_equal(pthread_create(&ta, NULL, join_thread, &a), 0);
	joins_parked_until(f->b->gc->kafka_arg, "mx", 1);
	/* Both members wait: the round waits for the pending id too
	 * (Kafka's hasAllMembersJoined), until its JoinGroup is refused,
	 * which forgets it and completes the round (not the rebalance
	 * timeout, as long as a client's call waits). */
	c.member = c.out.member;
	assert_int_equal(pthread_create(&tc, NULL, join_thread, &c), 0);
	joins_parked_until(f->b->gc->kafka_arg, "mx", 2);
	b.member = b.out.member;
	b.once = false;
	join_call(&b);
	assert_int_equal(b.out.error, PROTO_ERR_GROUP_MAX_SIZE_REACHED);
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tc, NULL), 0);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	assert_int_equal(c.out.error, PROTO_ERR_NONE);
	assert_int_equal(npending(f->b->gc->kafka_arg), 0);
	net_client_close(c1);
	net_client_close(c2);
	net_client_close(c3);
}

static int setup_initial_delay(void **state)
{
	return setup_conf(state, "group.initial.rebalance.delay.ms=3000\n");
}

/* group.initial.rebalance.delay.ms (3 s), Kafka's InitialDelayedJoin: the
 * first JoinGroup of an Empty group waits out the delay though every
 * member joined, a member that joins meanwhile is in the same first
 * generation (no second rebalance), and since one did, the delay is
 * taken again at its end: a member that joins then (C, once the timer
 * has taken it again) is in that generation too. */
static void test_initial_delay(void **state)
{
	struct brokerfx *f = *state;
	struct net_client *c1 = brokerfx_connect(f), *c2 = brokerfx_connect(f);
	struct join_args a = {
		.c = c1, .v = 5, .group = "idl", .session_ms = 30000, .rebalance_ms = 10000
	};
	struct join_args b = a, c = a;
	struct net_client *c3 = brokerfx_connect(f);
	struct group_serve *gs = f->b->gc->kafka_arg;
	char line[256];
	int64_t end = now_mono_ms() + DEADLINE_MS;
	pthread_t ta, tb, tc;
	bool again = false;

	b.c = c2;
	c.c = c3;
	assert_int_equal(pthread_create(&ta, NULL, join_thread, &a), 0);
	do
		describe_line(f, "idl", line, sizeof(line));
	while (!has_prefix_suffix(line, "PreparingRebalance ", " 1") && now_mono_ms() < end &&
	       !usleep(10000));
	assert_true(has_prefix_suffix(line, "PreparingRebalance ", " 1"));
	assert_int_equal(pthread_create(&tb, NULL, join_thread, &b), 0);
	do
		describe_line(f, "idl", line, sizeof(line));
	while (!has_prefix_suffix(line, "PreparingRebalance ", " 2") && now_mono_ms() < end &&
	       !usleep(10000));
	/* B is in; the first delay ends, and is taken again (its flag
	 * cleared, the group still rebalancing). */
	while (!again && now_mono_ms() < end && !usleep(10000)) {
		struct kgroup *g;

		pthread_mutex_lock(&gs->mu);
		g = kg_find(gs, "idl");
		again = g && (g->state != KG_PREPARING || !g->new_member_added);
		pthread_mutex_unlock(&gs->mu);
	}
	assert_int_equal(pthread_create(&tc, NULL, join_thread, &c), 0);
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tb, NULL), 0);
	assert_int_equal(pthread_join(tc, NULL), 0);
	assert_int_equal(a.out.error, PROTO_ERR_NONE);
	assert_int_equal(b.out.error, PROTO_ERR_NONE);
	assert_int_equal(c.out.error, PROTO_ERR_NONE);
	assert_int_equal(a.out.generation, 1);
	assert_int_equal(b.out.generation, 1);
	assert_int_equal(c.out.generation, 1);
	assert_string_equal(a.out.leader, a.out.member);
	assert_int_equal(a.out.n_members, 3);
	net_client_close(c1);
	net_client_close(c2);
	net_client_close(c3);
}

/* Kafka's offsets cleanup (offsets.retention.check.interval.ms): an Empty
 * group without committed offsets is removed with its tombstone written,
 * so that no coordinator loads it again; an Empty group with offsets
 * stays, Empty. */
static void test_empty_group_cleanup(void **state)
{
	struct brokerfx *f = *state;
	struct join_args j = {
		.c = f->c, .v = 5, .group = "kept", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct sync_args s = { .c = f->c, .v = 3, .group = "kept", .n = 1 };
	struct commit_part cp = { "t", 0, 4 };
	char member[256], line[300], logged[1 << 16];
	struct group_meta gm;
	int64_t until;
	size_t len = 1;
	uint8_t *val;
	int16_t err;

	join_sync_one(&j, &s, member, sizeof(member), "a");
	commit(f, 2, "kept", j.out.generation, member, &cp, 1, &err);
	assert_int_equal(err, PROTO_ERR_NONE);
	assert_int_equal(leave(f->c, 3, "kept", member), PROTO_ERR_NONE);
	wait_empty_record(f, "kept", &gm);
	group_meta_free(&gm);
	j.group = s.group = "gone";
	join_sync_one(&j, &s, member, sizeof(member), "a");
	assert_int_equal(leave(f->c, 3, "gone", member), PROTO_ERR_NONE);
	/* The Empty record, then (a cleanup after both were Empty) the
	 * tombstone. */
	until = now_mono_ms() + DEADLINE_MS;
	for (;;) {
		val = meta_record(f, "gone", &len);
		if (!val && len == 0)
			break;
		free(val);
		assert_true(now_mono_ms() < until);
		usleep(10000);
	}
	assert_int_equal(delete_group(f, "gone"), PROTO_ERR_GROUP_ID_NOT_FOUND);
	describe_line(f, "gone", line, sizeof(line));
	assert_string_equal(line, "Dead '' '' 0");
	/* The group with offsets stays Empty, its record too; described
	 * as Kafka describes an Empty group, without a protocol (the
	 * topic's group its commit made does not lend it its assignor). */
	describe_line(f, "kept", line, sizeof(line));
	assert_string_equal(line, "Empty 'consumer' '' 0");
	val = meta_record(f, "kept", &len);
	assert_non_null(val);
	free(val);
	reopen_logged(f, logged, sizeof(logged));
	assert_null(strstr(logged, "Kafka group gone: loaded"));
	assert_non_null(strstr(logged, "Kafka group kept: loaded Empty"));
	assert_int_equal(delete_group(f, "kept"), PROTO_ERR_NONE);
	assert_null(meta_record(f, "kept", &len));
	assert_int_equal(len, 0);
}

/* ---- Expiry of committed offsets (offsets.retention.minutes) ---- */

/* The wall clock the broker reads (engine_now_ms: commit times, the
 * Empty record's time, the expiry's now), moved by the tests only. */
#define EXPIRY_EPOCH 1700000000000LL
#define MINUTE_MS    60000
static _Atomic int64_t fake_wall;
static int64_t (*real_wall)(void);

static int64_t fake_wall_ms(void)
{
	return atomic_load(&fake_wall);
}

static void advance(int64_t ms)
{
	atomic_fetch_add(&fake_wall, ms);
}

/* The expiry tests' members join with JoinGroup v3, at once: the
 * cleanup every 20 ms would remove a new group whose only member id is
 * one a v4+ JoinGroup's MEMBER_ID_REQUIRED handed out, before the second
 * JoinGroup, as Kafka's cleanup removes an Empty group without offsets
 * (UNKNOWN_MEMBER_ID then, on a loaded machine). */
static int setup_expiry(void **state)
{
	struct brokerfx *f;

	real_wall = engine_now_ms;
	atomic_store(&fake_wall, EXPIRY_EPOCH);
	engine_now_ms = fake_wall_ms;
	brokerfx_setup(state, "gserve",
		       "num.partitions=2\ngroup.min.session.timeout.ms=100\n"
		       "offsets.retention.check.interval.ms=20\noffsets.retention.minutes=1\n");
	f = *state;
	assert_int_equal(broker_topic_create(f->b, "t", 0, 0, 0755, NULL), 0);
	return 0;
}

static int teardown_expiry(void **state)
{
	int rc = brokerfx_teardown(state);

	engine_now_ms = real_wall;
	return rc;
}

/* Returns once a whole cleanup (the expiry first) ran after the call:
 * two more ended. Polls, DEADLINE_MS. */
static void wait_cleanup(struct brokerfx *f)
{
	struct group_serve *gs = f->b->gc->kafka_arg;
	unsigned seen = atomic_load(&gs->cleanups);
	int64_t until = now_mono_ms() + DEADLINE_MS;

	while (atomic_load(&gs->cleanups) - seen < 2) {
		assert_true(now_mono_ms() < until);
		usleep(5000);
	}
}

/* Whether topic has the mount's group name. */
static bool group_in(struct brokerfx *f, const char *topic, const char *name)
{
	struct topic *t;
	struct group *g;
	int rc;

	assert_int_equal(broker_topic_get(f->b, topic, &t), 0);
	rc = group_open(t, name, GROUP_LOOKUP, &g);
	if (rc == 0)
		group_put(g);
	topic_put(t);
	assert_true(rc == 0 || rc == -ENOENT);
	return rc == 0;
}

/* Whether topic t has the mount's group name. */
static bool group_there(struct brokerfx *f, const char *name)
{
	return group_in(f, "t", name);
}

/* A Kafka group with consumers (a protocol type): no offset expires
 * while it has members, however old its commits; once Empty, its offsets
 * expire offsets.retention.minutes after it became Empty (not after
 * their commits), that time kept in its Empty record across a reopen;
 * then their tombstones and the group's are written: a reopen brings
 * neither back. */
static void test_expiry_from_empty(void **state)
{
	struct brokerfx *f = *state;
	struct join_args j = {
		.c = f->c, .v = 3, .group = "eg", .session_ms = 30000, .rebalance_ms = 30000
	};
	struct sync_args s = { .c = f->c, .v = 3, .group = "eg", .n = 1 };
	struct commit_part cp[] = { { "t", 0, 4 }, { "t", 1, 6 } };
	char member[256], line[300], logged[1 << 16];
	struct group_meta gm;
	int64_t offs[2], until, empty_at;
	int16_t errs[2];
	size_t len = 1;
	uint8_t *val;

	join_sync_one(&j, &s, member, sizeof(member), "a");
	commit(f, 2, "eg", j.out.generation, member, cp, 2, errs);
	assert_int_equal(errs[0] | errs[1], PROTO_ERR_NONE);
	advance(10 * MINUTE_MS);
	wait_cleanup(f);
	fetch_offsets(f, 2, "eg", true, offs);
	assert_int_equal(offs[0], 4);
	assert_int_equal(offs[1], 6);

	assert_int_equal(leave(f->c, 3, "eg", member), PROTO_ERR_NONE);
	empty_at = fake_wall_ms();
	wait_empty_record(f, "eg", &gm);
	assert_int_equal(gm.current_state_timestamp, empty_at);
	group_meta_free(&gm);
	advance(MINUTE_MS - 1);
	wait_cleanup(f);
	fetch_offsets(f, 2, "eg", true, offs);
	assert_int_equal(offs[0], 4);
	assert_int_equal(offs[1], 6);
	reopen_logged(f, logged, sizeof(logged));
	assert_non_null(strstr(logged, "Kafka group eg: loaded Empty"));
	wait_cleanup(f);
	fetch_offsets(f, 2, "eg", true, offs);
	assert_int_equal(offs[0], 4);

	advance(1);
	until = now_mono_ms() + DEADLINE_MS;
	for (;;) {
		val = meta_record(f, "eg", &len);
		if (!val && len == 0)
			break;
		free(val);
		assert_true(now_mono_ms() < until);
		usleep(5000);
	}
	fetch_offsets(f, 2, "eg", true, offs);
	assert_int_equal(offs[0], NOT_LISTED);
	assert_int_equal(offs[1], NOT_LISTED);
	assert_false(group_there(f, "eg"));
	describe_line(f, "eg", line, sizeof(line));
	assert_string_equal(line, "Dead '' '' 0");
	reopen_logged(f, logged, sizeof(logged));
	assert_null(strstr(logged, "Kafka group eg: loaded"));
	fetch_offsets(f, 2, "eg", true, offs);
	assert_int_equal(offs[0], NOT_LISTED);
	assert_int_equal(offs[1], NOT_LISTED);
	assert_false(group_there(f, "eg"));
}

/* The groups the gone listener heard of, "topic/group;" each. */
static char gone_heard[128];
static void on_gone(void *arg, const char *topic, const char *group)
{
	size_t n = strlen(gone_heard);

	(void)arg;
	snprintf(gone_heard + n, sizeof(gone_heard) - n, "%s/%s;", topic, group);
}

/* Commits outside any generation (no protocol type): each offset
 * expires offsets.retention.minutes after its own commit, that time kept
 * in its record across a reopen; the group goes with its last one, a
 * deletion the mount hears of. */
static void test_expiry_standalone(void **state)
{
	struct brokerfx *f = *state;
	struct commit_part c0 = { "t", 0, 5 }, c1 = { "t", 1, 7 };
	char logged[1 << 16];
	int64_t offs[2], until;
	int16_t err;

	commit(f, 2, "sa", -1, "", &c0, 1, &err);
	assert_int_equal(err, PROTO_ERR_NONE);
	advance(MINUTE_MS / 2);
	commit(f, 2, "sa", -1, "", &c1, 1, &err);
	assert_int_equal(err, PROTO_ERR_NONE);
	reopen_logged(f, logged, sizeof(logged));
	advance(MINUTE_MS / 2 - 1);
	wait_cleanup(f);
	assert_true(offset_kept(f, "t", "sa", 0));

	advance(1);
	until = now_mono_ms() + DEADLINE_MS;
	while (offset_kept(f, "t", "sa", 0)) {
		assert_true(now_mono_ms() < until);
		usleep(5000);
	}
	fetch_offsets(f, 2, "sa", true, offs);
	assert_int_equal(offs[0], NOT_LISTED);
	assert_int_equal(offs[1], 7);
	reopen_logged(f, logged, sizeof(logged));
	fetch_offsets(f, 2, "sa", true, offs);
	assert_int_equal(offs[0], NOT_LISTED);
	assert_int_equal(offs[1], 7);

	/* The group's removal, as a deletion, is heard by the mount's gone
	 * listener (which drops the name from the kernel's cache); it is
	 * called under the coordinator's lock, which group_there takes. */
	gone_heard[0] = '\0';
	group_set_gone_listener(f->b, on_gone, NULL);
	advance(MINUTE_MS / 2);
	until = now_mono_ms() + DEADLINE_MS;
	while (group_there(f, "sa")) {
		assert_true(now_mono_ms() < until);
		usleep(5000);
	}
	assert_string_equal(gone_heard, "t/sa;");
	fetch_offsets(f, 2, "sa", true, offs);
	assert_int_equal(offs[1], NOT_LISTED);
	reopen_logged(f, logged, sizeof(logged));
	assert_false(group_there(f, "sa"));
	fetch_offsets(f, 2, "sa", true, offs);
	assert_int_equal(offs[0], NOT_LISTED);
	assert_int_equal(offs[1], NOT_LISTED);
}

/* Polls (DEADLINE_MS) until group name's offset of t/p is gone (the
 * group too when that was its last). */
static void wait_expired(struct brokerfx *f, const char *name, int p)
{
	int64_t until = now_mono_ms() + DEADLINE_MS;

	while (group_there(f, name) && offset_kept(f, "t", name, p)) {
		assert_true(now_mono_ms() < until);
		usleep(5000);
	}
}

/* A version 2-4 commit's retention_time_ms other than -1 is Kafka's
 * expireTimestamp, now + retention: the offset expires then, before or
 * after offsets.retention.minutes (1 here), the time kept in its record
 * across a reopen; -1 is the broker's retention. */
static void test_expiry_retention_time(void **state)
{
	struct brokerfx *f = *state;

	assert_int_equal(commit_md(f, 2, "rt", 0, 5, NULL, 0, -1, 3 * MINUTE_MS), PROTO_ERR_NONE);
	assert_int_equal(commit_md(f, 4, "rt", 1, 6, NULL, 0, -1, -1), PROTO_ERR_NONE);
	assert_int_equal(commit_md(f, 3, "rs", 0, 7, NULL, 0, -1, 1000), PROTO_ERR_NONE);
	advance(999);
	wait_cleanup(f);
	assert_true(offset_kept(f, "t", "rs", 0));
	advance(1);
	wait_expired(f, "rs", 0);

	advance(MINUTE_MS - 1000);
	wait_expired(f, "rt", 1); /* the broker's minute */
	assert_true(offset_kept(f, "t", "rt", 0));
	brokerfx_close(f);
	brokerfx_open(f);
	advance(2 * MINUTE_MS - 1);
	wait_cleanup(f);
	assert_true(offset_kept(f, "t", "rt", 0));
	advance(1);
	wait_expired(f, "rt", 0);
}

/* A version 1 commit's commit_timestamp is the commit time its
 * retention counts from (-1: now), kept across a reopen. */
static void test_expiry_commit_timestamp(void **state)
{
	struct brokerfx *f = *state;
	int64_t at = fake_wall_ms() - MINUTE_MS / 2;

	assert_int_equal(commit_md(f, 1, "ct", 0, 5, NULL, 0, at, -1), PROTO_ERR_NONE);
	assert_int_equal(commit_md(f, 1, "ct", 1, 6, NULL, 0, -1, -1), PROTO_ERR_NONE);
	brokerfx_close(f);
	brokerfx_open(f);
	advance(MINUTE_MS / 2 - 1);
	wait_cleanup(f);
	assert_true(offset_kept(f, "t", "ct", 0));
	advance(1);
	wait_expired(f, "ct", 0);
	assert_true(offset_kept(f, "t", "ct", 1));
}

/* The mount's groups: nothing expires while a consume file is a member;
 * once the last leaves, the retention counts from then; a group mkdir
 * made that holds no offset stays. */
static void test_expiry_mount_group(void **state)
{
	struct brokerfx *f = *state;
	struct commit_part c0 = { "t", 0, 3 };
	struct group_member *m;
	struct group *g, *made;
	struct topic *t;
	int64_t until;
	int16_t err;

	commit(f, 2, "mg", -1, "", &c0, 1, &err);
	assert_int_equal(err, PROTO_ERR_NONE);
	assert_int_equal(broker_topic_get(f->b, "t", &t), 0);
	assert_int_equal(group_open(t, "mk", GROUP_CREATE_EXCL, &made), 0);
	group_put(made);
	assert_int_equal(group_open(t, "mg", GROUP_LOOKUP, &g), 0);
	assert_int_equal(group_join(g, getpid(), no_wake, NULL, &m), 0);
	advance(10 * MINUTE_MS);
	wait_cleanup(f);
	assert_true(offset_kept(f, "t", "mg", 0));
	group_leave(m);
	group_put(g);
	advance(MINUTE_MS - 1);
	wait_cleanup(f);
	assert_true(offset_kept(f, "t", "mg", 0));
	advance(1);
	until = now_mono_ms() + DEADLINE_MS;
	while (group_there(f, "mg")) {
		assert_true(now_mono_ms() < until);
		usleep(5000);
	}
	assert_true(group_there(f, "mk"));
	topic_put(t);
}

/* Closes the broker, moves the fake clock by away ms while it is down
 * (no cleanup runs then) and opens it again; then group name's offset of
 * t/0 is kept for offsets.retention.minutes less 1 ms, and the group
 * goes at the minute (polled, DEADLINE_MS). */
static void reopen_expires_in_a_minute(struct brokerfx *f, const char *name, int64_t away)
{
	int64_t until;

	brokerfx_close(f);
	advance(away);
	brokerfx_open(f);
	advance(MINUTE_MS - 1);
	wait_cleanup(f);
	assert_true(offset_kept(f, "t", name, 0));
	advance(1);
	until = now_mono_ms() + DEADLINE_MS;
	while (group_there(f, name)) {
		assert_true(now_mono_ms() < until);
		usleep(5000);
	}
}

/* The time a mount group lost its last member is kept in its settings
 * record (idle.since.ms): after a reopen its offset, committed ten
 * minutes before the member left, still expires offsets.retention.minutes
 * after the leaving, not after the commit. */
static void test_expiry_mount_idle_reopen(void **state)
{
	struct brokerfx *f = *state;
	struct commit_part c0 = { "t", 0, 3 };
	struct group_member *m;
	struct group *g;
	struct topic *t;
	int64_t until;
	int16_t err;
	bool unsaved = true;

	commit(f, 2, "ri", -1, "", &c0, 1, &err);
	assert_int_equal(err, PROTO_ERR_NONE);
	assert_int_equal(broker_topic_get(f->b, "t", &t), 0);
	assert_int_equal(group_open(t, "ri", GROUP_LOOKUP, &g), 0);
	assert_int_equal(group_join(g, getpid(), no_wake, NULL, &m), 0);
	advance(10 * MINUTE_MS);
	group_leave(m);
	until = now_mono_ms() + DEADLINE_MS;
	while (unsaved) {
		assert_true(now_mono_ms() < until);
		usleep(5000);
		pthread_mutex_lock(&g->mu);
		unsaved = g->idle_unsaved;
		pthread_mutex_unlock(&g->mu);
	}
	group_put(g);
	topic_put(t);
	reopen_expires_in_a_minute(f, "ri", 0);
}

/* A settings record written while the group had members
 * (idle.since.ms=-1): they left with the broker, so a reopen counts the
 * group idle from the load, as Kafka's loaded group becomes Empty once
 * its members' sessions expire there; not from the commit, made ten
 * minutes before. */
static void test_expiry_members_at_reopen(void **state)
{
	static const char rec[] = "hm/t\tpartition.assignment.strategy=range "
				  "auto.offset.reset=earliest session.timeout.ms=45000 "
				  "idle.since.ms=-1\n";
	struct brokerfx *f = *state;
	struct commit_part c0 = { "t", 0, 3 };
	int16_t err;

	commit(f, 2, "hm", -1, "", &c0, 1, &err);
	assert_int_equal(err, PROTO_ERR_NONE);
	assert_int_equal(group_store_append(f->b->gc, "hm", rec, sizeof(rec) - 1), 0);
	reopen_expires_in_a_minute(f, "hm", 10 * MINUTE_MS);
}

/* KIP-496: while a "consumer" group is Stable, the offsets of a topic
 * none of its members subscribes to (u; they subscribe to t) expire
 * offsets.retention.minutes after their commit, their tombstones written
 * (a reopen brings none back) and u's group with them; the offsets of
 * the topic they read stay, and so does the Stable group. */
static void test_expiry_unsubscribed(void **state)
{
	struct brokerfx *f = *state;
	struct join_args j = {
		.c = f->c, .v = 3, .group = "ug", .session_ms = 30000, .rebalance_ms = 30000
	};
	struct sync_args s = { .c = f->c, .v = 3, .group = "ug", .n = 1 };
	struct commit_part cp[] = { { "t", 0, 4 }, { "u", 0, 6 }, { "u", 1, 8 } };
	char member[256], line[300], logged[1 << 16];
	int64_t until;
	int16_t errs[3];

	assert_int_equal(broker_topic_create(f->b, "u", 0, 0, 0755, NULL), 0);
	join_sync_one(&j, &s, member, sizeof(member), "a");
	commit(f, 2, "ug", j.out.generation, member, cp, 3, errs);
	assert_int_equal(errs[0] | errs[1] | errs[2], PROTO_ERR_NONE);
	advance(MINUTE_MS - 1);
	wait_cleanup(f);
	assert_true(offset_kept(f, "u", "ug", 0));
	assert_true(offset_kept(f, "u", "ug", 1));

	advance(1);
	until = now_mono_ms() + DEADLINE_MS;
	while (group_in(f, "u", "ug")) {
		assert_true(now_mono_ms() < until);
		usleep(5000);
	}
	assert_true(offset_kept(f, "t", "ug", 0));
	describe_line(f, "ug", line, sizeof(line));
	assert_string_equal(line, "Stable 'consumer' 'range' 1");
	assert_int_equal(heartbeat(f->c, 4, "ug", member, j.out.generation), PROTO_ERR_NONE);
	reopen_logged(f, logged, sizeof(logged));
	assert_false(group_in(f, "u", "ug"));
	assert_true(offset_kept(f, "t", "ug", 0));
}

/* A Stable "consumer" group whose member's subscription does not parse
 * (five topics announced, none there): its subscribed topics are not
 * known, so none of its offsets expires, as Kafka's (subscribedTopics
 * None); once Empty, they count from then. */
static void test_expiry_unparsable_sub(void **state)
{
	static const uint8_t bad[] = { 0, 0, 0, 0, 0, 5, 0, 1 };
	struct brokerfx *f = *state;
	struct join_args j = { .c = f->c,
			       .v = 3,
			       .group = "bg",
			       .meta = bad,
			       .meta_len = sizeof(bad),
			       .session_ms = 30000,
			       .rebalance_ms = 30000 };
	struct sync_args s = { .c = f->c, .v = 3, .group = "bg", .n = 1 };
	struct commit_part cp = { "u", 0, 6 };
	char member[256];
	int16_t err;

	assert_int_equal(broker_topic_create(f->b, "u", 0, 0, 0755, NULL), 0);
	join_sync_one(&j, &s, member, sizeof(member), "a");
	commit(f, 2, "bg", j.out.generation, member, &cp, 1, &err);
	assert_int_equal(err, PROTO_ERR_NONE);
	advance(10 * MINUTE_MS);
	wait_cleanup(f);
	assert_true(offset_kept(f, "u", "bg", 0));
	assert_int_equal(heartbeat(f->c, 4, "bg", member, j.out.generation), PROTO_ERR_NONE);
}

/* ---- The order of a group's records ---- */

/* Holds the Empty record of group "race" in its append until released. */
struct hold {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool armed, held, released;
};

static void hold_hook(void *arg, const char *name, const uint8_t *value, size_t len)
{
	struct hold *h = arg;
	struct group_meta gm;

	if (strcmp(name, "race") || !value || group_meta_value_decode(value, len, &gm) < 0)
		return;
	pthread_mutex_lock(&h->mu);
	if (h->armed && gm.n_members == 0) {
		h->armed = false;
		h->held = true;
		pthread_cond_broadcast(&h->cv);
		while (!h->released)
			pthread_cond_wait(&h->cv, &h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	group_meta_free(&gm);
}

struct rejoin {
	struct join_args j;
	struct sync_args s;
	char member[256];
	atomic_bool done;
};

static void *rejoin_thread(void *arg)
{
	struct rejoin *r = arg;

	join_sync_one(&r->j, &r->s, r->member, sizeof(r->member), "b");
	atomic_store(&r->done, true);
	return NULL;
}

/* Appends of group name waiting for the one in flight. */
static int store_waiting(struct group_serve *gs, const char *name)
{
	int n = 0;

	pthread_mutex_lock(&gs->mu);
	for (struct kseq *q = gs->kseqs; q; q = q->next)
		if (!strcmp(q->name, name))
			n = q->waiting;
	pthread_mutex_unlock(&gs->mu);
	return n;
}

/* The window: the timer thread appends a group's Empty record with no
 * lock held; meanwhile a new member joins and its SyncGroup writes the
 * next generation's record. Were that record appended first, the Empty
 * one would be the group's last, and a broker taking over would load the
 * group Empty (its member told UNKNOWN_MEMBER_ID). The Empty record is
 * held in its append (the store hook) until the new generation's
 * SyncGroup has either completed (the window: it did not wait) or waits
 * for it; then released. The last record must be the new generation's,
 * and a reopen loads it. */
static void test_metadata_order(void **state)
{
	struct brokerfx *f = *state;
	struct group_serve *gs = f->b->gc->kafka_arg;
	struct hold h = { .armed = true };
	struct join_args j = {
		.c = f->c, .v = 5, .group = "race", .session_ms = 10000, .rebalance_ms = 10000
	};
	struct sync_args s = { .c = f->c, .v = 3, .group = "race", .n = 1 };
	struct rejoin *r = calloc(1, sizeof(*r));
	char member[256], logged[1 << 16];
	struct group_meta gm;
	struct net_client *c2;
	pthread_t th;
	int64_t until;
	uint8_t *val;
	size_t len = 0;

	assert_non_null(r);
	pthread_mutex_init(&h.mu, NULL);
	pthread_cond_init(&h.cv, NULL);
	pthread_mutex_lock(&gs->mu);
	gs->store_hook = hold_hook;
	gs->store_hook_arg = &h;
	pthread_mutex_unlock(&gs->mu);

	join_sync_one(&j, &s, member, sizeof(member), "a");
	assert_int_equal(leave(f->c, 3, "race", member), PROTO_ERR_NONE);
	pthread_mutex_lock(&h.mu);
	until = now_mono_ms() + DEADLINE_MS;
	while (!h.held) {
		struct timespec ts;

		assert_true(now_mono_ms() < until);
		deadline_from_ms(CLOCK_REALTIME, 100, &ts);
		pthread_cond_timedwait(&h.cv, &h.mu, &ts);
	}
	pthread_mutex_unlock(&h.mu);

	/* A new member, its generation synced on another connection. */
	c2 = brokerfx_connect(f);
	assert_non_null(c2);
	r->j = (struct join_args){
		.c = c2, .v = 5, .group = "race", .session_ms = 10000, .rebalance_ms = 10000
	};
	r->s = (struct sync_args){ .c = c2, .v = 3, .group = "race", .n = 1 };
	assert_int_equal(pthread_create(&th, NULL, rejoin_thread, r), 0);
	until = now_mono_ms() + DEADLINE_MS;
	while (!atomic_load(&r->done) && store_waiting(gs, "race") == 0) {
		assert_true(now_mono_ms() < until);
		usleep(5000);
	}
	pthread_mutex_lock(&h.mu);
	h.released = true;
	pthread_cond_broadcast(&h.cv);
	pthread_mutex_unlock(&h.mu);
	pthread_join(th, NULL);
	assert_int_equal(r->j.out.generation, 3);

	val = meta_record(f, "race", &len);
	assert_non_null(val);
	assert_int_equal(group_meta_value_decode(val, len, &gm), 0);
	assert_int_equal(gm.generation, 3);
	assert_int_equal(gm.n_members, 1);
	assert_true(kstr_eq(gm.members[0].member_id, r->member));
	group_meta_free(&gm);
	free(val); /* gm points into it */

	pthread_mutex_lock(&gs->mu);
	gs->store_hook = NULL;
	pthread_mutex_unlock(&gs->mu);
	net_client_close(c2);
	reopen_logged(f, logged, sizeof(logged));
	assert_non_null(strstr(logged, "Kafka group race: loaded Stable, generation 3"));
	assert_int_equal(heartbeat(f->c, 3, "race", r->member, 3), PROTO_ERR_NONE);
	free(r);
	pthread_cond_destroy(&h.cv);
	pthread_mutex_destroy(&h.mu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_find_coordinator, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_describe_authorized_operations, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_one_member, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_rebalance, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_protocol_choice, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_static_member_slow, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_timeouts, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_timer_sleeps_to_deadline, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_pending_sync, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_session_not_renewed, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_join_checks, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_sync_answer_renews, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_new_member_join_timeout, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_pending_member_awaited, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_static_replaced_completing, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_static_replaced_stable, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_member_id_required, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_group_max_size, setup_max_size,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_initial_delay, setup_initial_delay,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_offsets, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_commit_no_generation, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_empty_group_id, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_static_member_replaced, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_reset_commit, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_fetch_all_after_restart, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_mixed_group, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_offset_delete, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_commit_metadata, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_commit_epoch, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_consume_commit_epoch, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_scoped_group_offsets, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_fetch_group_error_v0, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_mixed_group, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_metadata_reload, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_loaded_over_max_size, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_metadata_bad_records, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_metadata_compaction, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_metadata_big_record, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_metadata_dissolved, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_metadata_session_afresh, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_empty_group_deleted, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_empty_group_cleanup, setup_cleanup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_metadata_order, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_expiry_from_empty, setup_expiry,
						teardown_expiry),
		cmocka_unit_test_setup_teardown(test_expiry_standalone, setup_expiry,
						teardown_expiry),
		cmocka_unit_test_setup_teardown(test_expiry_retention_time, setup_expiry,
						teardown_expiry),
		cmocka_unit_test_setup_teardown(test_expiry_commit_timestamp, setup_expiry,
						teardown_expiry),
		cmocka_unit_test_setup_teardown(test_expiry_mount_group, setup_expiry,
						teardown_expiry),
		cmocka_unit_test_setup_teardown(test_expiry_mount_idle_reopen, setup_expiry,
						teardown_expiry),
		cmocka_unit_test_setup_teardown(test_expiry_members_at_reopen, setup_expiry,
						teardown_expiry),
		cmocka_unit_test_setup_teardown(test_expiry_unsubscribed, setup_expiry,
						teardown_expiry),
		cmocka_unit_test_setup_teardown(test_expiry_unparsable_sub, setup_expiry,
						teardown_expiry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
