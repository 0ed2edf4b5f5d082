/*
 * test_group_remote.c — mount members of one group on two brokers
 * (repl/group_remote.c on the member's broker, repl/group_guest.c on the
 * coordinator), over real sockets: two single-node brokers in this
 * process, each with a listener and a topic t of two partitions; broker
 * B's hooks name broker A as the coordinator of group g and connect to
 * A's listener, as a cluster's do.
 *
 * A member on B and one on A split the partitions by A's assignor; B's
 * member reads its partition from B's log and its commit is A's committed
 * offset (and what group_offset shows on B); A's member leaving hands B's
 * member both partitions at its next heartbeat; B's member leaving is
 * gone from A at once (LeaveGroup). On A alone, with a raw client: a
 * guest never heard from again expires after the group's session
 * timeout; a commit of a partition the guest does not own is refused
 * (ILLEGAL_GENERATION); a heartbeat of an older generation answers
 * REBALANCE_IN_PROGRESS; a subscription that is not one topic is
 * INCONSISTENT_GROUP_PROTOCOL. And a member open on B while B itself
 * coordinated moves to A when A becomes the coordinator. What A answers
 * for a partition, -1 (none, or a Kafka client's -1) included, is what
 * B shows and where a member joining on B starts, with A's
 * auto.offset.reset; only while A cannot be reached does B keep the last
 * offset it knew.
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "repl/broker_int.h"
#include "repl/config.h"
#include "repl/group_int.h"
#include "repl/net.h"
#include "repl/proto.h"
#include "repl/repl.h"
#include "tests/unit/brokerfx.h"
#include "util/clock.h"

#define DEADLINE_MS BROKERFX_DEADLINE_MS
#define A_ID        1

/* A and B: a brokerfx each (a broker, its listener, a client), and topic
 * t of each. */
struct node {
	struct brokerfx *x;
	struct topic *t;
};

struct fx {
	struct node a, b;
};

static struct fx *the_fx; /* for B's connect hook */

static void node_open(struct node *n, const char *tag, const char *extra)
{
	void *st;

	brokerfx_setup(&st, tag, extra);
	n->x = st;
	assert_int_equal(broker_topic_create(n->x->b, "t", 0, 0, 0755, &n->t), 0);
}

static void node_close(struct node *n)
{
	void *st = n->x;

	if (n->t)
		topic_put(n->t);
	brokerfx_teardown(&st);
}

/* A's broker stops, as a killed daemon does: its listener's port refuses
 * connections from now on. */
static void node_kill(struct node *n)
{
	topic_put(n->t);
	n->t = NULL;
	brokerfx_close(n->x);
}

/* B's hooks: g's coordinator is coord (A_ID; -1 B itself;
 * GROUP_COORD_NONE none, an election; A_OTHER another broker, which is
 * A's listener under another id). A cannot be reached while a_down
 * (refused), or answers nothing while a_frozen (a socket that listens
 * and never accepts: the kernel completes the connection of a stopped
 * process, which then never reads). connects counts B's attempts to
 * reach A_ID, nones the lookups answered GROUP_COORD_NONE. */
#define A_OTHER 3
static atomic_int coord = A_ID;
static atomic_bool a_down, a_frozen;
static atomic_int connects, nones;
static int frozen_fd = -1, frozen_port;

static int32_t coordinator_a(void *arg, const char *group)
{
	int32_t c = atomic_load(&coord);

	(void)arg;
	if (strcmp(group, "g"))
		return -1;
	if (c == GROUP_COORD_NONE)
		atomic_fetch_add(&nones, 1);
	return c;
}

static int connect_a(void *arg, int32_t node, int64_t timeout_ms, struct net_client **out)
{
	(void)arg;
	if (node != A_ID && node != A_OTHER)
		return -ENOENT;
	if (node == A_ID) {
		atomic_fetch_add(&connects, 1);
		if (atomic_load(&a_down))
			return -ECONNREFUSED;
		if (atomic_load(&a_frozen))
			return net_client_connect("127.0.0.1", frozen_port, timeout_ms, out);
	}
	return net_client_connect("127.0.0.1", the_fx->a.x->port, timeout_ms, out);
}

/* The frozen coordinator's socket: listening on a free port of
 * 127.0.0.1, never accepting. */
static void frozen_open(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	frozen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(frozen_fd >= 0);
	assert_int_equal(bind(frozen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(frozen_fd, 16), 0);
	assert_int_equal(getsockname(frozen_fd, (struct sockaddr *)&sa, &len), 0);
	frozen_port = ntohs(sa.sin_port);
}

static int setup_with(void **state, const char *b_extra)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct group_coord *gc;

	assert_non_null(f);
	the_fx = f;
	atomic_store(&coord, A_ID);
	atomic_store(&a_down, false);
	atomic_store(&a_frozen, false);
	atomic_store(&connects, 0);
	atomic_store(&nones, 0);
	node_open(&f->a, "gremote-a", "num.partitions=2\n");
	node_open(&f->b, "gremote-b", b_extra);
	gc = f->b.x->b->gc;
	pthread_mutex_lock(&gc->mu);
	gc->kafka_coordinator = coordinator_a;
	pthread_mutex_lock(&gc->connect_mu);
	gc->connect = connect_a;
	pthread_mutex_unlock(&gc->connect_mu);
	pthread_mutex_unlock(&gc->mu);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, "num.partitions=2\n");
}

/* B gives up on a coordinator after 1.5 s instead of 30. */
static int setup_short_wait(void **state)
{
	return setup_with(state, "num.partitions=2\nrequest.timeout.ms=1500\n");
}

static int teardown(void **state)
{
	struct fx *f = *state;

	node_close(&f->b);
	node_close(&f->a);
	if (frozen_fd >= 0)
		close(frozen_fd);
	frozen_fd = -1;
	free(f);
	return 0;
}

static void no_wake(void *arg)
{
	(void)arg;
}

/* The partitions m owns in its group, as a bit mask. */
static int owned(struct group_member *m)
{
	struct group *g = m->g;
	int mask = 0;

	pthread_mutex_lock(&g->mu);
	for (int p = 0; p < g->nparts; p++)
		if (g->parts[p].owner == m)
			mask |= 1 << p;
	pthread_mutex_unlock(&g->mu);
	return mask;
}

static int members(struct group *g)
{
	int n;

	pthread_mutex_lock(&g->mu);
	n = g->nmembers;
	pthread_mutex_unlock(&g->mu);
	return n;
}

/* The first guest of g (on A), or NULL. */
static struct group_member *guest_of(struct group *g)
{
	struct group_member *m;

	pthread_mutex_lock(&g->mu);
	for (m = g->members; m && !m->guest; m = m->next)
		;
	pthread_mutex_unlock(&g->mu);
	return m;
}

static void test_two_brokers_one_group(void **state)
{
	struct fx *f = *state;
	struct group *ga, *gb;
	struct group_member *ma, *mb, *guest;
	char buf[64];
	int64_t off, end;
	int pb;

	assert_int_equal(group_open(f->a.t, "g", GROUP_CREATE, &ga), 0);
	assert_int_equal(group_open(f->b.t, "g", GROUP_CREATE, &gb), 0);
	assert_int_equal(group_join(ga, 11, no_wake, NULL, &ma), 0);
	assert_int_equal(owned(ma), 3);
	assert_int_equal(group_join(gb, 22, no_wake, NULL, &mb), 0);

	/* One group at A: A's member and B's, one partition each. */
	assert_int_equal(members(ga), 2);
	guest = guest_of(ga);
	assert_non_null(guest);
	assert_non_null(strstr(guest->id, "-22@"));
	assert_string_equal(group_member_id(mb), guest->id);
	assert_true(owned(ma) == 1 || owned(ma) == 2);
	assert_int_equal(owned(mb), 3 & ~owned(ma));
	assert_int_equal(owned(guest), owned(mb));
	assert_int_equal(members(gb), 1);

	/* B's member reads its partition from B's log; its commit is A's. */
	pb = owned(mb) == 1 ? 0 : 1;
	assert_int_equal(topic_produce(f->b.t, pb, "x\ny\n", 4, 0), 0);
	assert_int_equal(group_consume(mb, 0, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "x\ny\n", 4);
	assert_int_equal(group_consume(mb, 4, buf, sizeof(buf)), 0);
	assert_int_equal(group_offset(ga, pb, &off), 0);
	assert_int_equal(off, 2);
	assert_int_equal(group_offset(gb, pb, &off), 0); /* asked of A */
	assert_int_equal(off, 2);

	/* A's member leaves: B's learns at its next heartbeat. */
	group_leave(ma);
	assert_int_equal(owned(guest), 3);
	end = now_mono_ms() + DEADLINE_MS;
	while (owned(mb) != 3 && now_mono_ms() < end)
		usleep(20000);
	assert_int_equal(owned(mb), 3);

	/* B's member leaves: gone from A at once. */
	group_leave(mb);
	assert_int_equal(members(ga), 0);
	assert_int_equal(members(gb), 0);
	group_put(ga);
	group_put(gb);
}

/* B's member read all there was, and the commit its next read makes is
 * lost with the coordinator (A killed): once A is back and the member has
 * joined it again, keeping its partitions, the commit is sent again, and
 * A's committed offset is what the member read, though no new record
 * comes to carry a later commit. */
static void test_refused_commit_sent_again(void **state)
{
	struct fx *f = *state;
	struct group *ga, *gb;
	struct group_member *mb;
	char buf[64];
	int64_t off = -1, end;
	void *dead;

	assert_int_equal(group_open(f->b.t, "g", GROUP_CREATE, &gb), 0);
	assert_int_equal(group_join(gb, 22, no_wake, NULL, &mb), 0);
	assert_int_equal(owned(mb), 3);
	assert_int_equal(topic_produce(f->b.t, 0, "x\ny\n", 4, 0), 0);
	assert_int_equal(group_consume(mb, 0, buf, sizeof(buf)), 4);
	node_kill(&f->a);
	assert_int_equal(group_consume(mb, 4, buf, sizeof(buf)), 0); /* commit lost */
	dead = f->a.x;
	brokerfx_teardown(&dead);
	node_open(&f->a, "gremote-a2", "num.partitions=2\n");
	assert_int_equal(group_open(f->a.t, "g", GROUP_CREATE, &ga), 0);
	end = now_mono_ms() + DEADLINE_MS;
	while ((group_offset(ga, 0, &off) != 0 || off != 2) && now_mono_ms() < end)
		usleep(20000);
	assert_int_equal(off, 2);
	assert_int_equal(owned(mb), 3);
	group_leave(mb);
	group_put(ga);
	group_put(gb);
}

/* The coordinator moves from B to A while B's member is open: B's group
 * timer hands it to A, where it joins (and the two brokers' members
 * share the group from then on). */
static void test_coordinator_moves(void **state)
{
	struct fx *f = *state;
	struct group *ga, *gb;
	struct group_member *ma, *mb;
	int64_t end;

	atomic_store(&coord, -1);
	assert_int_equal(group_open(f->b.t, "g", GROUP_CREATE, &gb), 0);
	assert_int_equal(group_join(gb, 22, no_wake, NULL, &mb), 0);
	assert_int_equal(owned(mb), 3);
	assert_int_equal(group_open(f->a.t, "g", GROUP_CREATE, &ga), 0);
	assert_int_equal(group_join(ga, 11, no_wake, NULL, &ma), 0);
	assert_int_equal(owned(ma), 3); /* two coordinators, for now */

	atomic_store(&coord, A_ID);
	end = now_mono_ms() + DEADLINE_MS;
	while ((members(ga) != 2 || owned(mb) == 3) && now_mono_ms() < end)
		usleep(20000);
	assert_int_equal(members(ga), 2);
	assert_non_null(guest_of(ga));
	assert_int_equal(owned(mb) | owned(ma), 3);
	assert_int_equal(owned(mb) & owned(ma), 0);
	assert_true(owned(mb) != 0);

	group_leave(mb);
	assert_int_equal(members(ga), 1);
	group_leave(ma);
	group_put(ga);
	group_put(gb);
}

/* A remote member connects holding its connection's lock (grem.conn_mu,
 * which a commit waits for under group.mu): it must not take coord.mu
 * there, which comes before group.mu (group_int.h). A join done while
 * another thread holds B's coord.mu, as group_open does while it waits
 * for the group's lock, completes. */
struct join_arg {
	struct group *g;
	struct group_member *m;
	int rc;
	atomic_bool done;
};

static void *remote_join_main(void *arg)
{
	struct join_arg *a = arg;

	a->rc = group_remote_join(a->g, A_ID, 33, no_wake, NULL, &a->m);
	atomic_store(&a->done, true);
	return NULL;
}

static void test_remote_join_while_coord_busy(void **state)
{
	struct fx *f = *state;
	struct group_coord *gc = f->b.x->b->gc;
	struct join_arg a = { .rc = -1 };
	struct group *ga;
	pthread_t th;
	int64_t end;
	bool done;

	assert_int_equal(group_open(f->a.t, "g", GROUP_CREATE, &ga), 0);
	assert_int_equal(group_open(f->b.t, "g", GROUP_CREATE, &a.g), 0);
	pthread_mutex_lock(&gc->mu);
	assert_int_equal(pthread_create(&th, NULL, remote_join_main, &a), 0);
	end = now_mono_ms() + DEADLINE_MS;
	while (!atomic_load(&a.done) && now_mono_ms() < end)
		usleep(20000);
	done = atomic_load(&a.done);
	pthread_mutex_unlock(&gc->mu);
	pthread_join(th, NULL);
	assert_true(done);
	assert_int_equal(a.rc, 0);
	assert_int_equal(members(ga), 1);
	group_leave(a.m);
	assert_int_equal(members(ga), 0);
	group_put(ga);
	group_put(a.g);
}

/* ---- the coordinator's side with a raw client ---- */

static void call(struct net_client *c, int16_t api, struct kbuf_w *w, struct net_resp *raw,
		 int16_t *v)
{
	*v = (int16_t)net_client_version(c, api);
	assert_true(*v >= 0);
	brokerfx_call(c, api, *v, w, raw);
}

/* JoinGroup of protocol type mqfs; meta: NULL for a subscription of t. */
static int16_t guest_join(struct net_client *c, const char *topic2, char *id, int32_t *gen)
{
	struct kstr topics[2] = { kstr_of("t"), kstr_of(topic2 ? topic2 : "") };
	struct proto_consumer_sub sub = { .version = 0,
					  .n_topics = topic2 ? 2 : 1,
					  .topics = topics,
					  .user_data = kstr_of("99@7") };
	struct proto_join_protocol proto = { .name = kstr_of(GROUP_GUEST_PTYPE) };
	struct proto_join_req req = { .group_id = kstr_of("g"),
				      .session_timeout_ms = 10000,
				      .rebalance_timeout_ms = 10000,
				      .member_id = kstr_of(""),
				      .group_instance_id = KSTR_NULL,
				      .protocol_type = kstr_of(GROUP_GUEST_PTYPE),
				      .n_protocols = 1,
				      .protocols = &proto,
				      .reason = KSTR_NULL };
	struct proto_join_resp r;
	struct net_resp raw;
	struct kbuf_w sw, w;
	int16_t v, err;

	kbuf_w_init(&sw, 4096);
	assert_int_equal(proto_consumer_sub_encode(&sw, &sub), 0);
	proto.metadata = (struct kstr){ (const char *)sw.buf, (int32_t)sw.len };
	kbuf_w_init(&w, 4096);
	assert_int_equal(
		proto_join_req_encode(&w, net_client_version(c, PROTO_API_JOIN_GROUP), &req), 0);
	call(c, PROTO_API_JOIN_GROUP, &w, &raw, &v);
	kbuf_w_free(&sw);
	assert_int_equal(proto_join_resp_decode(&raw.body, v, &r), 0);
	err = r.error_code;
	snprintf(id, 64, "%.*s", r.member_id.len > 0 ? (int)r.member_id.len : 0,
		 r.member_id.ptr ? r.member_id.ptr : "");
	*gen = r.generation_id;
	proto_join_resp_free(&r);
	net_resp_free(&raw);
	return err;
}

static int16_t guest_heartbeat(struct net_client *c, const char *id, int32_t gen)
{
	struct proto_heartbeat_req req = { .group_id = kstr_of("g"),
					   .generation_id = gen,
					   .member_id = kstr_of(id),
					   .group_instance_id = KSTR_NULL };
	struct proto_heartbeat_resp r;
	struct net_resp raw;
	struct kbuf_w w;
	int16_t v;

	kbuf_w_init(&w, 4096);
	assert_int_equal(
		proto_heartbeat_req_encode(&w, net_client_version(c, PROTO_API_HEARTBEAT), &req),
		0);
	call(c, PROTO_API_HEARTBEAT, &w, &raw, &v);
	assert_int_equal(proto_heartbeat_resp_decode(&raw.body, v, &r), 0);
	net_resp_free(&raw);
	return r.error_code;
}

/* OffsetCommit of partition p of t by member id of generation gen; id ""
 * and gen -1: outside any generation, as Kafka's admin tools and kafkajs's
 * resetOffsets commit. */
static int16_t commit_as(struct net_client *c, const char *id, int32_t gen, int p, int64_t off)
{
	struct proto_offset_commit_part cp = { .partition_index = p,
					       .committed_offset = off,
					       .committed_leader_epoch = -1,
					       .commit_timestamp = -1,
					       .committed_metadata = KSTR_NULL };
	struct proto_offset_commit_topic ct = { .name = kstr_of("t"),
						.n_partitions = 1,
						.partitions = &cp };
	struct proto_offset_commit_req req = { .group_id = kstr_of("g"),
					       .generation_id = gen,
					       .member_id = kstr_of(id),
					       .group_instance_id = KSTR_NULL,
					       .retention_time_ms = -1,
					       .n_topics = 1,
					       .topics = &ct };
	struct proto_offset_commit_resp r;
	struct net_resp raw;
	struct kbuf_w w;
	int16_t v, err;

	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_offset_commit_req_encode(
				 &w, net_client_version(c, PROTO_API_OFFSET_COMMIT), &req),
			 0);
	call(c, PROTO_API_OFFSET_COMMIT, &w, &raw, &v);
	assert_int_equal(proto_offset_commit_resp_decode(&raw.body, v, &r), 0);
	assert_int_equal(r.n_topics, 1);
	err = r.topics[0].partitions[0].error_code;
	proto_offset_commit_resp_free(&r);
	net_resp_free(&raw);
	return err;
}

static int16_t guest_commit(struct net_client *c, const char *id, int p, int64_t off)
{
	return commit_as(c, id, 1, p, off);
}

static void test_guest_rules(void **state)
{
	struct fx *f = *state;
	struct net_client *c;
	struct group *ga;
	struct group_member *ma;
	char id[64];
	int32_t gen, gen2;
	int64_t end, off;
	int pa;

	c = f->a.x->c;
	assert_int_equal(guest_join(c, "u", id, &gen), PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL);
	assert_int_equal(guest_join(c, NULL, id, &gen), PROTO_ERR_NONE);
	assert_non_null(strstr(id, "-99@7"));
	assert_int_equal(guest_heartbeat(c, id, gen), PROTO_ERR_NONE);

	/* A local member joins: the guest's generation is old now. */
	assert_int_equal(group_open(f->a.t, "g", GROUP_LOOKUP, &ga), 0);
	assert_int_equal(group_join(ga, 11, no_wake, NULL, &ma), 0);
	assert_int_equal(guest_heartbeat(c, id, gen), PROTO_ERR_REBALANCE_IN_PROGRESS);
	gen2 = ga->generation;
	assert_true(gen2 > gen);
	assert_int_equal(guest_heartbeat(c, id, gen2), PROTO_ERR_NONE);

	/* Only the owner's commit of a partition is taken. */
	pa = owned(ma) == 1 ? 0 : 1;
	assert_int_equal(guest_commit(c, id, pa, 1), PROTO_ERR_ILLEGAL_GENERATION);
	assert_int_equal(group_offset(ga, pa, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(topic_produce(f->a.t, 1 - pa, "z\n", 2, 0), 0);
	assert_int_equal(guest_commit(c, id, 1 - pa, 1), PROTO_ERR_NONE);
	assert_int_equal(group_offset(ga, 1 - pa, &off), 0);
	assert_int_equal(off, 1);

	/* Silent past the session timeout, set shorter while the group timer
	 * sleeps (to the guest's session of 45 s): dropped, and A's member
	 * has all. As a .config write does, below its minimum of 6 s: the
	 * setting, and the timer woken to its new deadline. */
	pthread_mutex_lock(&ga->mu);
	ga->session_timeout_ms = 300;
	group_timer_kick(ga->gc);
	pthread_mutex_unlock(&ga->mu);
	end = now_mono_ms() + DEADLINE_MS;
	while (members(ga) != 1 && now_mono_ms() < end)
		usleep(20000);
	assert_int_equal(members(ga), 1);
	assert_int_equal(owned(ma), 3);
	assert_int_equal(guest_heartbeat(c, id, gen2), PROTO_ERR_UNKNOWN_MEMBER_ID);

	group_leave(ma);
	group_put(ga);
}

/* Everything m can read now (as cat reads: at the end of its stream). */
static size_t drain(struct group_member *m, char *out, size_t cap)
{
	size_t used = 0;
	ssize_t n;

	while ((n = group_consume(m, m->end, out + used, cap - used)) > 0)
		used += (size_t)n;
	assert_true(n == 0);
	out[used] = '\0';
	return used;
}

/* The value of the sample that starts with head in broker b's .metrics,
 * or -1 when there is none. */
static int64_t metric_of(struct broker *b, const char *head)
{
	char *text, *at;
	size_t len;
	int64_t v = -1;

	assert_int_equal(broker_metrics_text(b, &text, &len), 0);
	at = strstr(text, head);
	if (at)
		v = strtoll(at + strlen(head), NULL, 10);
	free(text);
	return v;
}

/* A group's metrics are its coordinator's: B's proxy of A's group, whose
 * offsets are what B last asked A, has no samples in B's .metrics (a
 * commit at A would leave them behind, and its member is A's guest, so
 * counted there); A's follow the commits and count B's member. */
static void test_proxy_metrics_at_coordinator(void **state)
{
	struct fx *f = *state;
	static const char committed[] =
		"mqfs_consumer_group_committed_offset{topic=\"t\",group=\"g\",partition=\"0\"} ";
	static const char lag[] =
		"mqfs_consumer_group_lag{topic=\"t\",group=\"g\",partition=\"0\"} ";
	static const char members_of[] = "mqfs_consumer_group_members{topic=\"t\",group=\"g\"} ";
	struct net_client *c = f->a.x->c;
	struct group *ga, *gb;
	struct group_member *mb;
	int64_t off;

	assert_int_equal(group_open(f->a.t, "g", GROUP_CREATE, &ga), 0);
	assert_int_equal(group_open(f->b.t, "g", GROUP_CREATE, &gb), 0);
	assert_int_equal(topic_produce(f->a.t, 0, "a\nb\nc\nd\ne\n", 10, 0), 0);
	assert_int_equal(commit_as(c, "", -1, 0, 3), PROTO_ERR_NONE);
	assert_int_equal(group_offset(gb, 0, &off), 0); /* B learns 3 */
	assert_int_equal(off, 3);
	assert_int_equal(commit_as(c, "", -1, 0, 4), PROTO_ERR_NONE);
	assert_int_equal(metric_of(f->a.x->b, committed), 4);
	assert_int_equal(metric_of(f->a.x->b, lag), 1);
	assert_int_equal(metric_of(f->b.x->b, committed), -1);
	assert_int_equal(metric_of(f->b.x->b, lag), -1);

	assert_int_equal(group_join(gb, 22, no_wake, NULL, &mb), 0);
	assert_int_equal(metric_of(f->a.x->b, members_of), 1);
	assert_int_equal(metric_of(f->b.x->b, members_of), -1);
	group_leave(mb);
	group_put(ga);
	group_put(gb);
}

/* What A answers for a partition is what B's proxy shows and where a
 * member joining on B starts, -1 (none, or a Kafka client's -1) read as
 * on A's own mount: A's auto.offset.reset (latest here, which B learns
 * from A). Only an unanswered fetch (A unreachable) keeps the last
 * offset B knew. And -2 is the log start whatever auto.offset.reset. */
static void test_proxy_reads_coordinator_none(void **state)
{
	struct fx *f = *state;
	static const char latest[] = "auto.offset.reset=latest\n";
	struct net_client *c = f->a.x->c;
	struct group *ga, *gb;
	struct group_member *mb;
	char buf[64];
	int64_t off;

	assert_int_equal(group_open(f->a.t, "g", GROUP_CREATE, &ga), 0);
	assert_int_equal(group_config_write(ga, latest, sizeof(latest) - 1), 0);
	assert_int_equal(group_open(f->b.t, "g", GROUP_CREATE, &gb), 0);
	assert_int_equal(topic_produce(f->b.t, 0, "a\nb\nc\nd\ne\n", 10, 0), 0);

	/* 3 at A: B shows it, and keeps it while A cannot be reached. */
	assert_int_equal(commit_as(c, "", -1, 0, 3), PROTO_ERR_NONE);
	assert_int_equal(group_offset(gb, 0, &off), 0);
	assert_int_equal(off, 3);
	atomic_store(&a_down, true);
	assert_int_equal(group_offset(gb, 0, &off), 0);
	assert_int_equal(off, 3);
	atomic_store(&a_down, false);

	/* A member on B starts there; its reads commit 5 at A. */
	assert_int_equal(group_join(gb, 22, no_wake, NULL, &mb), 0);
	drain(mb, buf, sizeof(buf) - 1);
	assert_string_equal(buf, "d\ne\n");
	group_leave(mb);
	assert_int_equal(group_offset(ga, 0, &off), 0);
	assert_int_equal(off, 5);
	assert_int_equal(topic_produce(f->b.t, 0, "f\ng\n", 4, 0), 0);

	/* -1 at A: none, so latest (B's high watermark 7), not the 5 B
	 * knew; also once A cannot be reached, and for a member joining on
	 * B. */
	assert_int_equal(commit_as(c, "", -1, 0, -1), PROTO_ERR_NONE);
	assert_int_equal(group_offset(gb, 0, &off), 0);
	assert_int_equal(off, 7);
	atomic_store(&a_down, true);
	assert_int_equal(group_offset(gb, 0, &off), 0);
	assert_int_equal(off, 7);
	atomic_store(&a_down, false);
	assert_int_equal(group_join(gb, 22, no_wake, NULL, &mb), 0);
	assert_int_equal(drain(mb, buf, sizeof(buf) - 1), 0);
	assert_int_equal(topic_produce(f->b.t, 0, "h\n", 2, 0), 0);
	drain(mb, buf, sizeof(buf) - 1);
	assert_string_equal(buf, "h\n");
	group_leave(mb);

	/* -2 at A: the log start, auto.offset.reset latest or not. */
	assert_int_equal(commit_as(c, "", -1, 0, -2), PROTO_ERR_NONE);
	assert_int_equal(group_offset(gb, 0, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(group_join(gb, 22, no_wake, NULL, &mb), 0);
	drain(mb, buf, sizeof(buf) - 1);
	assert_string_equal(buf, "a\nb\nc\nd\ne\nf\ng\nh\n");
	group_leave(mb);
	group_put(ga);
	group_put(gb);
}

/* ---- an open while the coordinator is gone ---- */

/* group_join on another thread: an open of consume. */
static void *open_main(void *arg)
{
	struct join_arg *a = arg;

	a->rc = group_join(a->g, 22, no_wake, NULL, &a->m);
	atomic_store(&a->done, true);
	return NULL;
}

/* Polls until *n reaches at least want or the open has ended. */
static void wait_count(atomic_int *n, int want, struct join_arg *a)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (atomic_load(n) < want && !atomic_load(&a->done) && now_mono_ms() < end)
		usleep(20000);
}

/* Runs fn (an open, or an administrator's operation, through B) on a
 * thread while g's coordinator cannot be reached; once B has tried to
 * reach it twice (so fn did not give up at the first failure), the
 * group's coordinator becomes next, after an election (none for a while)
 * when election is set. fn must have succeeded then. */
static void run_across_move(struct join_arg *a, void *(*fn)(void *), bool election, int32_t next)
{
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, fn, a), 0);
	wait_count(&connects, 2, a);
	if (election) {
		atomic_store(&coord, GROUP_COORD_NONE);
		wait_count(&nones, 1, a);
	}
	atomic_store(&coord, next);
	pthread_join(th, NULL);
	assert_int_equal(a->rc, 0);
	assert_true(atomic_load(&connects) >= 2);
}

/* The coordinator is killed (its broker closed: connections refused):
 * an open on B does not fail with ECONNREFUSED but asks again who
 * coordinates and tries again, through an election (no coordinator for a
 * while) until B itself coordinates the group; then it joins here, a
 * local member with both partitions. */
static void test_open_waits_for_killed_coordinator(void **state)
{
	struct fx *f = *state;
	struct join_arg a = { .rc = 1 };
	struct group *ga;

	assert_int_equal(group_open(f->a.t, "g", GROUP_CREATE, &ga), 0);
	group_put(ga);
	assert_int_equal(group_open(f->b.t, "g", GROUP_CREATE, &a.g), 0);
	node_kill(&f->a);

	run_across_move(&a, open_main, true, -1);
	assert_null(a.m->rm); /* a local member: B coordinates */
	assert_int_equal(owned(a.m), 3);
	group_leave(a.m);
	group_put(a.g);
}

/* The coordinator is frozen (it takes the connection and never answers):
 * an open on B does not fail with ETIMEDOUT after its call's timeout but
 * tries again, and joins at the broker that coordinates the group next,
 * as a member there. */
static void test_open_follows_frozen_coordinator(void **state)
{
	struct fx *f = *state;
	struct join_arg a = { .rc = 1 };
	struct group *ga;

	assert_int_equal(group_open(f->a.t, "g", GROUP_CREATE, &ga), 0);
	assert_int_equal(group_open(f->b.t, "g", GROUP_CREATE, &a.g), 0);
	frozen_open();
	atomic_store(&a_frozen, true);

	run_across_move(&a, open_main, false, A_OTHER);
	assert_non_null(a.m->rm); /* a member at the next coordinator */
	assert_int_equal(members(ga), 1);
	assert_non_null(guest_of(ga));
	assert_int_equal(owned(a.m), 3);
	group_leave(a.m);
	assert_int_equal(members(ga), 0);
	group_put(ga);
	group_put(a.g);
}

static void *config_main(void *arg)
{
	static const char text[] = "session.timeout.ms=7000\n";
	struct join_arg *a = arg;

	a->rc = group_config_write(a->g, text, sizeof(text) - 1);
	atomic_store(&a->done, true);
	return NULL;
}

/* An administrator's operation through B (a .config write) while the
 * coordinator cannot be reached waits as an open does, and is made at
 * the broker that coordinates the group next. */
static void test_admin_waits_for_killed_coordinator(void **state)
{
	struct fx *f = *state;
	struct join_arg a = { .rc = 1 };
	struct group *ga;

	assert_int_equal(group_open(f->a.t, "g", GROUP_CREATE, &ga), 0);
	assert_int_equal(group_open(f->b.t, "g", GROUP_CREATE, &a.g), 0);
	atomic_store(&a_down, true);

	run_across_move(&a, config_main, false, A_OTHER);
	pthread_mutex_lock(&ga->mu);
	assert_int_equal(ga->session_timeout_ms, 7000);
	pthread_mutex_unlock(&ga->mu);
	group_put(ga);
	group_put(a.g);
}

/* No coordinator answers within B's request.timeout.ms: the open is
 * EAGAIN (retry), never the connection's ECONNREFUSED or ETIMEDOUT;
 * alike while no broker coordinates the group. */
static void test_open_eagain_at_deadline(void **state)
{
	struct fx *f = *state;
	struct group_member *m = NULL;
	struct group *gb;

	assert_int_equal(group_open(f->b.t, "g", GROUP_CREATE, &gb), 0);
	atomic_store(&a_down, true);
	assert_int_equal(group_join(gb, 22, no_wake, NULL, &m), -EAGAIN);
	assert_null(m);
	assert_true(atomic_load(&connects) >= 2);
	assert_int_equal(members(gb), 0);

	frozen_open();
	atomic_store(&a_down, false);
	atomic_store(&a_frozen, true);
	assert_int_equal(group_join(gb, 22, no_wake, NULL, &m), -EAGAIN);
	assert_null(m);

	atomic_store(&coord, GROUP_COORD_NONE);
	assert_int_equal(group_join(gb, 22, no_wake, NULL, &m), -EAGAIN);
	assert_null(m);
	assert_true(atomic_load(&nones) >= 2);
	assert_int_equal(members(gb), 0);
	group_put(gb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_brokers_one_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_commit_sent_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coordinator_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_join_while_coord_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxy_reads_coordinator_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxy_metrics_at_coordinator, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_waits_for_killed_coordinator, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_follows_frozen_coordinator, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_eagain_at_deadline, setup_short_wait,
						teardown),
		cmocka_unit_test_setup_teardown(test_admin_waits_for_killed_coordinator, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
