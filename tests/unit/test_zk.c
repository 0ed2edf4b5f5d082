/*
 * test_zk.c — the ZooKeeper client (repl/zkc.c) and the metadata
 * operations (repl/zkmeta.c) against a real ZooKeeper server, one for the
 * whole binary (tests/unit/zksrv.c starts it and kills it). Each test works
 * under a chroot of its own, so tests do not see each other's znodes.
 *
 * Covered: the connect string and chroot creation; create/get/set/delete
 * with versions and their errnos; transactions; watches of every kind,
 * one per owner and znode however often it is read;
 * broker registration (a taken id is refused); controller election with
 * two brokers and failover when the winner's session closes, and the epoch
 * guard that stops the deposed one; topics, partition states and their
 * guarded updates; session expiry reported to the owner; malformed
 * documents in znodes; a server killed and restarted, which the session
 * survives. Nothing waits for a fixed time: events are awaited
 * with a deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "repl/repl.h"
#include "repl/producer_ids.h"
#include "repl/zkc.h"
#include "repl/zkdata.h"
#include "repl/zkmeta.h"
#include "tests/unit/zksrv.h"
#include "util/clock.h"

#define SESSION_MS 6000
#define CONNECT_MS 20000
#define WAIT_MS    20000 /* deadline for an event; they come in ms */


/* ---- events seen by callbacks (completion thread) ---- */

#define MAX_EVENTS 64

struct seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;
	int ev[MAX_EVENTS];
	char path[MAX_EVENTS][128];
};

/* Static: a failing test may leave a handle whose thread still calls in. */
static struct seen watch_seen = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, { 0 }, { { 0 } }
};
static struct seen session_seen = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, { 0 }, { { 0 } }
};
static struct seen other_seen = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, { 0 }, { { 0 } }
};

static void seen_add(struct seen *s, int ev, const char *path)
{
	pthread_mutex_lock(&s->lock);
	if (s->n < MAX_EVENTS) {
		s->ev[s->n] = ev;
		snprintf(s->path[s->n], sizeof(s->path[0]), "%s", path ? path : "");
		s->n++;
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void seen_reset(struct seen *s)
{
	pthread_mutex_lock(&s->lock);
	s->n = 0;
	pthread_mutex_unlock(&s->lock);
}

/* Waits until an event ev (on path, unless NULL) was seen; 1 if so. */
static int seen_wait(struct seen *s, int ev, const char *path)
{
	struct timespec end;
	int i, found = 0;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		for (i = 0; i < s->n && !found; i++)
			found = s->ev[i] == ev && (!path || !strcmp(s->path[i], path));
		if (found || pthread_cond_timedwait(&s->cond, &s->lock, &end) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&s->lock);
	return found;
}

static int seen_count(struct seen *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void on_watch(void *arg, enum zkc_watch ev, const char *path)
{
	seen_add(arg, ev, path);
}

static void on_session(void *arg, enum zkc_session ev)
{
	seen_add(arg, ev, NULL);
}

/* ---- helpers ---- */

static struct zkc *open_at(const char *chroot)
{
	char connect[256];
	struct zkc *zkc = NULL;

	snprintf(connect, sizeof(connect), "%s%s", zksrv_group()->connect, chroot);
	assert_int_equal(zkc_open(connect, SESSION_MS, CONNECT_MS, NULL, NULL, &zkc), 0);
	return zkc;
}

static void put(struct zkc *zkc, const char *path, const char *data)
{
	int rc = zkc_create(zkc, path, data, strlen(data), ZKC_PARENTS, NULL, 0);

	if (rc == -EEXIST)
		rc = zkc_set(zkc, path, data, strlen(data), ZKC_ANY_VERSION, NULL);
	assert_int_equal(rc, 0);
}

static struct zk_broker broker_doc(int port)
{
	static struct zk_endpoint ep[8];
	static char hosts[8][16];
	static int k;
	struct zk_broker b = { .jmx_port = -1, .timestamp = 1700000000000LL };

	k = (k + 1) % 8;
	snprintf(hosts[k], sizeof(hosts[k]), "127.0.0.1");
	ep[k] = (struct zk_endpoint){ "PLAINTEXT", "PLAINTEXT", hosts[k], port };
	b.endpoints = &ep[k];
	b.n_endpoints = 1;
	return b;
}

/* ---- connect string, chroot ---- */

static void test_parse_connect(void **state)
{
	char *hosts, *chroot;

	(void)state;
	assert_int_equal(zkc_parse_connect("a:1,b:2/kafka/prod", &hosts, &chroot), 0);
	assert_string_equal(hosts, "a:1,b:2");
	assert_string_equal(chroot, "/kafka/prod");
	free(hosts);
	free(chroot);
	assert_int_equal(zkc_parse_connect("zk1,zk2:2182", &hosts, &chroot), 0);
	assert_string_equal(hosts, "zk1:2181,zk2:2182");
	assert_null(chroot);
	free(hosts);
	assert_int_equal(zkc_parse_connect("zk:2181/", &hosts, &chroot), 0);
	assert_null(chroot);
	free(hosts);
	assert_int_equal(zkc_parse_connect("", &hosts, &chroot), -EINVAL);
	assert_int_equal(zkc_parse_connect("/kafka", &hosts, &chroot), -EINVAL);
	assert_int_equal(zkc_parse_connect("a:1,,b:2", &hosts, &chroot), -EINVAL);
	assert_int_equal(zkc_parse_connect("a:0", &hosts, &chroot), -EINVAL);
	assert_int_equal(zkc_parse_connect("a:65536", &hosts, &chroot), -EINVAL);
	assert_int_equal(zkc_parse_connect("a:x1", &hosts, &chroot), -EINVAL);
	assert_int_equal(zkc_parse_connect(":2181", &hosts, &chroot), -EINVAL);
	assert_int_equal(zkc_parse_connect("a:1/k/", &hosts, &chroot), -EINVAL);
	assert_int_equal(zkc_parse_connect("a:1/k//p", &hosts, &chroot), -EINVAL);
	assert_int_equal(zkc_parse_connect("a:1/k/../p", &hosts, &chroot), -EINVAL);
}

static void test_chroot_created(void **state)
{
	struct zkc *in, *root;
	char *data;
	size_t len;

	(void)state;
	in = open_at("/chroot/deep/c1");
	assert_int_equal(zkc_create(in, "/x", "1", 1, 0, NULL, 0), 0);
	root = open_at("");
	assert_int_equal(zkc_get(root, "/chroot/deep/c1/x", &data, &len, NULL, NULL, NULL), 0);
	assert_string_equal(data, "1");
	free(data);
	zkc_close(in);
	zkc_close(root);
	/* Opening again with the chroot there is fine. */
	zkc_close(open_at("/chroot/deep/c1"));
	assert_int_equal(zkc_open("127.0.0.1:1/x/", SESSION_MS, CONNECT_MS, NULL, NULL, &root),
			 -EINVAL);
}

/* ---- calls and their errnos ---- */

static void test_versions_and_errnos(void **state)
{
	struct zkc *zkc = open_at("/t_versions");
	struct zkc_stat st;
	char created[128], *data, **names;
	size_t len;
	int n;

	(void)state;
	assert_int_equal(zkc_get(zkc, "/a", &data, &len, NULL, NULL, NULL), -ENOENT);
	assert_int_equal(zkc_create(zkc, "/a/b", "x", 1, 0, NULL, 0), -ENOENT);
	assert_int_equal(zkc_create(zkc, "/a/b", "x", 1, ZKC_PARENTS, NULL, 0), 0);
	assert_int_equal(zkc_create(zkc, "/a/b", "y", 1, 0, NULL, 0), -EEXIST);
	assert_int_equal(zkc_get(zkc, "/a/b", &data, &len, &st, NULL, NULL), 0);
	assert_string_equal(data, "x");
	assert_int_equal(len, 1);
	assert_int_equal(st.version, 0);
	assert_true(st.ephemeral_owner == 0);
	free(data);
	/* An empty znode reads as "" (the parents were made without data). */
	assert_int_equal(zkc_get(zkc, "/a", &data, &len, &st, NULL, NULL), 0);
	assert_int_equal(len, 0);
	assert_string_equal(data, "");
	assert_int_equal(st.num_children, 1);
	free(data);

	/* Conditional writes: only from the version read. */
	assert_int_equal(zkc_set(zkc, "/a/b", "x1", 2, 0, &st), 0);
	assert_int_equal(st.version, 1);
	assert_int_equal(zkc_set(zkc, "/a/b", "x2", 2, 0, NULL), -ESTALE);
	assert_int_equal(zkc_set(zkc, "/nope", "x", 1, 0, NULL), -ENOENT);
	assert_int_equal(zkc_get(zkc, "/a/b", &data, &len, &st, NULL, NULL), 0);
	assert_string_equal(data, "x1");
	free(data);
	assert_int_equal(zkc_delete(zkc, "/a/b", 0), -ESTALE);
	assert_int_equal(zkc_delete(zkc, "/a", ZKC_ANY_VERSION), -ENOTEMPTY);

	/* A value bigger than the first read buffer. */
	{
		char *big = malloc(300000);

		memset(big, 'v', 300000);
		assert_int_equal(zkc_set(zkc, "/a/b", big, 300000, 1, NULL), 0);
		assert_int_equal(zkc_get(zkc, "/a/b", &data, &len, NULL, NULL, NULL), 0);
		assert_int_equal(len, 300000);
		assert_memory_equal(data, big, 300000);
		free(data);
		free(big);
	}
	assert_int_equal(zkc_delete(zkc, "/a/b", 2), 0);
	assert_int_equal(zkc_exists(zkc, "/a/b", NULL, NULL, NULL), -ENOENT);

	/* Sequential and ephemeral nodes, children sorted. */
	assert_int_equal(zkc_create(zkc, "/q/n-", "", 0, ZKC_SEQUENTIAL | ZKC_PARENTS, created,
				    sizeof(created)),
			 0);
	assert_string_equal(created, "/q/n-0000000000");
	assert_int_equal(zkc_create(zkc, "/q/n-", "", 0, ZKC_SEQUENTIAL, created, sizeof(created)),
			 0);
	assert_string_equal(created, "/q/n-0000000001");
	assert_int_equal(zkc_create(zkc, "/q/e", "", 0, ZKC_EPHEMERAL, NULL, 0), 0);
	assert_int_equal(zkc_exists(zkc, "/q/e", &st, NULL, NULL), 0);
	assert_true(st.ephemeral_owner == zkc_session_id(zkc));
	assert_int_equal(zkc_create(zkc, "/q/e/child", "", 0, 0, NULL, 0), -EPERM);
	n = zkc_children(zkc, "/q", &names, NULL, NULL);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "e");
	assert_string_equal(names[1], "n-0000000000");
	assert_string_equal(names[2], "n-0000000001");
	zkc_names_free(names, n);
	assert_int_equal(zkc_children(zkc, "/none", &names, NULL, NULL), -ENOENT);
	zkc_close(zkc);

	/* The session's ephemeral node went with it. */
	zkc = open_at("/t_versions");
	assert_int_equal(zkc_exists(zkc, "/q/e", NULL, NULL, NULL), -ENOENT);
	assert_int_equal(zkc_exists(zkc, "/q/n-0000000000", NULL, NULL, NULL), 0);
	zkc_close(zkc);
}

static void test_multi(void **state)
{
	struct zkc *zkc = open_at("/t_multi");
	struct zkc_op ops[3];
	struct zkc_stat st;
	int failed;

	(void)state;
	put(zkc, "/guard", "g");
	put(zkc, "/data", "d0");
	ops[0] = (struct zkc_op){ .type = ZKC_OP_CHECK, .path = "/guard", .version = 0 };
	ops[1] = (struct zkc_op){
		.type = ZKC_OP_SET, .path = "/data", .data = "d1", .len = 2, .version = 0
	};
	ops[2] = (struct zkc_op){ .type = ZKC_OP_CREATE, .path = "/new", .data = "n", .len = 1 };
	assert_int_equal(zkc_multi(zkc, ops, 3, &failed), 0);
	assert_int_equal(ops[1].new_version, 1);
	assert_int_equal(zkc_exists(zkc, "/new", NULL, NULL, NULL), 0);

	/* The guard moves: the whole transaction is refused, nothing applied. */
	assert_int_equal(zkc_set(zkc, "/guard", "g", 1, 0, NULL), 0);
	ops[1].version = 1;
	ops[2].path = "/new2";
	assert_int_equal(zkc_multi(zkc, ops, 3, &failed), -ESTALE);
	assert_int_equal(failed, 0);
	assert_int_equal(zkc_exists(zkc, "/new2", NULL, NULL, NULL), -ENOENT);
	assert_int_equal(zkc_exists(zkc, "/data", &st, NULL, NULL), 0);
	assert_int_equal(st.version, 1);

	/* A later op failing names its index and undoes the earlier ones. */
	ops[0].version = 1;
	ops[2].path = "/new";
	assert_int_equal(zkc_multi(zkc, ops, 3, &failed), -EEXIST);
	assert_int_equal(failed, 2);
	assert_int_equal(zkc_exists(zkc, "/data", &st, NULL, NULL), 0);
	assert_int_equal(st.version, 1);
	ops[0] = (struct zkc_op){ .type = ZKC_OP_DELETE, .path = "/new", .version = 5 };
	assert_int_equal(zkc_multi(zkc, ops, 1, &failed), -ESTALE);
	assert_int_equal(zkc_multi(zkc, ops, 0, &failed), -EINVAL);
	zkc_close(zkc);
}

/* ---- watches ---- */

static void test_watches(void **state)
{
	struct zkc *a = open_at("/t_watch"), *b = open_at("/t_watch");
	char *data, **names;
	size_t len;
	int n;

	(void)state;
	seen_reset(&watch_seen);
	put(a, "/w/data", "0");

	/* Data changed, seen by another session's watch. */
	assert_int_equal(zkc_get(a, "/w/data", &data, &len, NULL, on_watch, &watch_seen), 0);
	free(data);
	assert_int_equal(zkc_set(b, "/w/data", "1", 1, ZKC_ANY_VERSION, NULL), 0);
	assert_true(seen_wait(&watch_seen, ZKC_WATCH_CHANGED, "/w/data"));

	/* Created: an exists watch on a missing node. */
	assert_int_equal(zkc_exists(a, "/w/later", NULL, on_watch, &watch_seen), -ENOENT);
	assert_int_equal(zkc_create(b, "/w/later", "", 0, 0, NULL, 0), 0);
	assert_true(seen_wait(&watch_seen, ZKC_WATCH_CREATED, "/w/later"));

	/* Children changed. */
	n = zkc_children(a, "/w", &names, on_watch, &watch_seen);
	assert_int_equal(n, 2);
	zkc_names_free(names, n);
	assert_int_equal(zkc_create(b, "/w/kid", "", 0, ZKC_EPHEMERAL, NULL, 0), 0);
	assert_true(seen_wait(&watch_seen, ZKC_WATCH_CHILDREN, "/w"));

	/* Deleted, and one-shot: the change watch above fired once; the
	 * owner re-arms by reading again. */
	assert_int_equal(zkc_get(a, "/w/data", &data, &len, NULL, on_watch, &watch_seen), 0);
	assert_string_equal(data, "1");
	free(data);
	assert_int_equal(zkc_delete(b, "/w/data", ZKC_ANY_VERSION), 0);
	assert_true(seen_wait(&watch_seen, ZKC_WATCH_DELETED, "/w/data"));
	assert_int_equal(seen_count(&watch_seen), 4);

	/* A watch on a read that fails is not armed. */
	assert_int_equal(zkc_get(a, "/w/data", &data, &len, NULL, on_watch, &watch_seen), -ENOENT);
	assert_int_equal(zkc_create(b, "/w/data", "", 0, 0, NULL, 0), 0);
	/* Armed but never fired: freed by close (asan checks). */
	assert_int_equal(zkc_exists(a, "/w/never", NULL, on_watch, &watch_seen), -ENOENT);
	zkc_close(b);
	/* b's ephemeral kid went: no watch is armed on /w children now, so
	 * the count is unchanged; a sync round trip orders the events. */
	assert_int_equal(zkc_exists(a, "/w", NULL, NULL, NULL), 0);
	assert_int_equal(seen_count(&watch_seen), 4);
	zkc_close(a);
}

/* An owner reads the same znodes again and again between their changes
 * (a broker reads /config/users on every notification in /config/changes,
 * and that znode may never change): each (kind, path, function, argument)
 * holds one watch, which fires once at the next change; before, every read
 * armed one more and they piled up for as long as the znode stayed as it
 * was. Another argument is another owner, with a watch of its own. */
static void test_watch_reread(void **state)
{
	struct zkc *a = open_at("/t_reread"), *b = open_at("/t_reread");
	char *data, **names;
	size_t len;
	int n, base;

	(void)state;
	seen_reset(&watch_seen);
	seen_reset(&other_seen);
	put(a, "/r/data", "0");
	base = zkc_watches_armed(a);
	for (int i = 0; i < 10; i++) {
		n = zkc_children(a, "/r", &names, on_watch, &watch_seen);
		assert_int_equal(n, 1);
		zkc_names_free(names, n);
		assert_int_equal(zkc_get(a, "/r/data", &data, &len, NULL, on_watch, &watch_seen),
				 0);
		free(data);
		assert_int_equal(zkc_exists(a, "/r/later", NULL, on_watch, &watch_seen), -ENOENT);
	}
	assert_int_equal(zkc_watches_armed(a), base + 3);
	n = zkc_children(a, "/r", &names, on_watch, &other_seen);
	assert_int_equal(n, 1);
	zkc_names_free(names, n);
	assert_int_equal(zkc_watches_armed(a), base + 4);

	/* Each fires once, for each owner. */
	assert_int_equal(zkc_set(b, "/r/data", "1", 1, ZKC_ANY_VERSION, NULL), 0);
	assert_int_equal(zkc_create(b, "/r/later", "", 0, 0, NULL, 0), 0);
	assert_true(seen_wait(&watch_seen, ZKC_WATCH_CHANGED, "/r/data"));
	assert_true(seen_wait(&watch_seen, ZKC_WATCH_CREATED, "/r/later"));
	assert_true(seen_wait(&watch_seen, ZKC_WATCH_CHILDREN, "/r"));
	assert_true(seen_wait(&other_seen, ZKC_WATCH_CHILDREN, "/r"));
	/* a sync round trip orders the events */
	assert_int_equal(zkc_exists(a, "/r", NULL, NULL, NULL), 0);
	assert_int_equal(seen_count(&watch_seen), 3);
	assert_int_equal(seen_count(&other_seen), 1);
	assert_int_equal(zkc_watches_armed(a), base);

	/* Fired: the next read arms again. */
	n = zkc_children(a, "/r", &names, on_watch, &watch_seen);
	assert_int_equal(n, 2);
	zkc_names_free(names, n);
	assert_int_equal(zkc_watches_armed(a), base + 1);
	seen_reset(&watch_seen);
	assert_int_equal(zkc_delete(b, "/r/later", ZKC_ANY_VERSION), 0);
	assert_true(seen_wait(&watch_seen, ZKC_WATCH_CHILDREN, "/r"));
	assert_int_equal(zkc_exists(a, "/r", NULL, NULL, NULL), 0);
	assert_int_equal(seen_count(&watch_seen), 1);
	assert_int_equal(zkc_watches_armed(a), base);
	zkc_close(b);
	zkc_close(a);
}

/* ---- session ---- */

static void test_session_expiry(void **state)
{
	struct zkc *zkc = NULL, *other = open_at("/t_expiry");
	char connect[256];
	struct zk_broker b = broker_doc(9092);

	(void)state;
	seen_reset(&session_seen);
	snprintf(connect, sizeof(connect), "%s/t_expiry", zksrv_group()->connect);
	assert_int_equal(zkc_open(connect, SESSION_MS, CONNECT_MS, on_session, &session_seen, &zkc),
			 0);
	assert_true(seen_wait(&session_seen, ZKC_CONNECTED, NULL));
	assert_int_equal(zkmeta_register_broker(zkc, 7, &b), 0);
	assert_int_equal(zkc_exists(other, "/brokers/ids/7", NULL, NULL, NULL), 0);

	assert_int_equal(zkc_expire(zkc), 0);
	assert_true(seen_wait(&session_seen, ZKC_EXPIRED, NULL));
	/* The broker's registration went with the session; the handle is
	 * dead and says so. */
	assert_int_equal(zkc_exists(other, "/brokers/ids/7", NULL, NULL, NULL), -ENOENT);
	assert_int_equal(zkc_exists(zkc, "/brokers/ids/7", NULL, NULL, NULL), -ENOTCONN);
	/* A transaction on the dead handle fails alike. (libzookeeper's
	 * zoo_multi frees memory it does not own on such a handle, here the
	 * chrooted path of the first op twice and the never-built path of
	 * the second: zkc_multi must not call it; asan and glibc catch the
	 * bad frees.) */
	struct zkc_op ops[2] = {
		{ .type = ZKC_OP_CHECK, .path = "/brokers", .version = 0 },
		{ .type = ZKC_OP_SET, .path = "/brokers/ids", .data = "x", .len = 1, .version = 0 },
	};
	int failed = -1;
	assert_int_equal(zkc_multi(zkc, ops, 2, &failed), -ENOTCONN);
	zkc_close(zkc);
	zkc_close(other);

	/* Without a chroot too: there zoo_multi frees the second op's
	 * never-built path (an invalid pointer). */
	seen_reset(&session_seen);
	assert_int_equal(zkc_open(zksrv_group()->connect, SESSION_MS, CONNECT_MS, on_session,
				  &session_seen, &zkc),
			 0);
	assert_true(seen_wait(&session_seen, ZKC_CONNECTED, NULL));
	assert_int_equal(zkc_expire(zkc), 0);
	assert_true(seen_wait(&session_seen, ZKC_EXPIRED, NULL));
	assert_int_equal(zkc_multi(zkc, ops, 2, &failed), -ENOTCONN);
	zkc_close(zkc);
}

/* ---- brokers and the controller ---- */

static void test_register_broker(void **state)
{
	struct zkc *a = open_at("/t_reg"), *b = open_at("/t_reg");
	struct zk_broker doc1 = broker_doc(9092), doc2 = broker_doc(9093), back;
	char *data, why[ZK_WHY_LEN];
	int32_t *ids;
	size_t len;
	int n;

	(void)state;
	assert_int_equal(zkmeta_ensure_paths(a), 0);
	assert_int_equal(zkmeta_ensure_paths(b), 0); /* idempotent */
	assert_int_equal(zkmeta_register_broker(a, 1, &doc1), 0);
	assert_int_equal(zkmeta_register_broker(a, 1, &doc1), 0); /* ours already */
	assert_int_equal(zkmeta_register_broker(b, 1, &doc2), -EEXIST);
	assert_int_equal(zkmeta_register_broker(b, 2, &doc2), 0);
	n = zkmeta_broker_ids(a, &ids, NULL, NULL);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 2);
	free(ids);

	/* The winner's registration is the one stored. */
	assert_int_equal(zkc_get(b, "/brokers/ids/1", &data, &len, NULL, NULL, NULL), 0);
	assert_int_equal(zk_broker_decode(data, len, &back, why), 0);
	assert_int_equal(back.endpoints[0].port, 9092);
	zk_broker_clear(&back);
	free(data);

	/* Once the holder's session ends, the id is free. */
	zkc_close(a);
	assert_int_equal(zkmeta_register_broker(b, 1, &doc2), 0);
	zkc_close(b);
}

static void test_controller_failover(void **state)
{
	struct zkc *a = open_at("/t_ctl"), *b = open_at("/t_ctl");
	struct zkmeta_controller ca, cb;
	char why[ZK_WHY_LEN] = "";
	char *data;
	size_t len;

	(void)state;
	seen_reset(&watch_seen);
	assert_int_equal(zkmeta_ensure_paths(a), 0);
	assert_int_equal(zkmeta_elect(a, 1, 1000, &ca, on_watch, &watch_seen, why), 1);
	assert_int_equal(ca.controller_id, 1);
	assert_int_equal(ca.epoch, 1);
	assert_int_equal(zkmeta_elect(b, 2, 1001, &cb, on_watch, &watch_seen, why), 0);
	assert_int_equal(cb.controller_id, 1);
	/* Asking again while winning is idempotent: same epoch. */
	assert_int_equal(zkmeta_elect(a, 1, 1002, &ca, NULL, NULL, why), 1);
	assert_int_equal(ca.epoch, 1);
	assert_int_equal(zkc_get(b, "/controller_epoch", &data, &len, NULL, NULL, NULL), 0);
	assert_string_equal(data, "1");
	free(data);

	/* The controller goes: the loser's watch fires and it takes over
	 * with the next epoch. */
	zkc_close(a);
	assert_true(seen_wait(&watch_seen, ZKC_WATCH_DELETED, "/controller"));
	assert_int_equal(zkmeta_elect(b, 2, 2000, &cb, NULL, NULL, why), 1);
	assert_int_equal(cb.controller_id, 2);
	assert_int_equal(cb.epoch, 2);
	assert_true(cb.epoch_zk_version > ca.epoch_zk_version);
	assert_int_equal(zkc_get(b, "/controller", &data, &len, NULL, NULL, NULL), 0);
	assert_string_equal(data, "{\"version\":1,\"brokerid\":2,\"timestamp\":\"2000\"}");
	free(data);

	/* The deposed controller's writes are refused by the epoch guard. */
	{
		int32_t r[] = { 1 };
		struct zk_assignment asg = { .replicas = r, .n_replicas = 1 };
		struct zk_topic t = { .partitions = &asg, .n_partitions = 1 };
		struct zk_partition_state s = {
			.controller_epoch = 1, .leader = 1, .isr = r, .n_isr = 1
		};

		assert_int_equal(zkmeta_create_topic(b, "ctl", &t, NULL), 0);
		assert_int_equal(
			zkmeta_create_partition_states(b, "ctl", &s, 1, ca.epoch_zk_version),
			-EPERM);
		s.controller_epoch = 2;
		assert_int_equal(
			zkmeta_create_partition_states(b, "ctl", &s, 1, cb.epoch_zk_version), 0);
	}
	zkc_close(b);
}

/* ---- topics and partition states ---- */

static void test_topics(void **state)
{
	struct zkc *ctl = open_at("/t_topics"), *leader = open_at("/t_topics");
	int32_t r0[] = { 1, 2, 3 }, r1[] = { 2, 3, 1 }, shrunk[] = { 1, 2 };
	struct zk_assignment asg[2] = { { .replicas = r0, .n_replicas = 3 },
					{ .replicas = r1, .n_replicas = 3 } };
	struct zk_topic t = { .partitions = asg, .n_partitions = 2 };
	char *keys[] = { "retention.ms" }, *values[] = { "60000" };
	struct zk_config cfg = { keys, values, 1 }, cfg_back;
	struct zk_partition_state st[2] = {
		{ .controller_epoch = 1, .leader = 1, .isr = r0, .n_isr = 3 },
		{ .controller_epoch = 1, .leader = 2, .isr = r1, .n_isr = 3 },
	};
	struct zkmeta_controller c;
	struct zkmeta_topic one, *all;
	struct zk_isr_change isrc;
	struct zk_tp tp = { "orders", 0 };
	char why[ZK_WHY_LEN] = "", id1[ZK_UUID_LEN + 1], id2[ZK_UUID_LEN + 1];
	char *data, **names;
	size_t len;
	int32_t v;
	int n;

	(void)state;
	assert_int_equal(zkmeta_ensure_paths(ctl), 0);
	assert_int_equal(zkmeta_elect(ctl, 1, 1, &c, NULL, NULL, why), 1);
	assert_int_equal(zk_uuid_new(t.topic_id), 0);
	assert_int_equal(zkmeta_create_topic(ctl, "orders", &t, &cfg), 0);
	assert_int_equal(zkmeta_create_topic(leader, "orders", &t, NULL), -EEXIST);
	assert_int_equal(zkmeta_create_topic(leader, "bad/name", &t, NULL), -EINVAL);

	/* Before the controller writes states, partitions read as absent. */
	assert_int_equal(zkmeta_read_topic(leader, "orders", &one, why), 0);
	assert_int_equal(one.assignment.n_partitions, 2);
	assert_false(one.partitions[0].present);
	zkmeta_topic_clear(&one);
	assert_int_equal(zkmeta_create_partition_states(ctl, "orders", st, 2, c.epoch_zk_version),
			 0);
	assert_int_equal(zkmeta_create_partition_states(ctl, "orders", st, 2, c.epoch_zk_version),
			 -EEXIST);

	assert_int_equal(zkmeta_read_topic(leader, "orders", &one, why), 0);
	assert_string_equal(one.assignment.topic_id, t.topic_id);
	assert_true(one.partitions[1].present);
	assert_int_equal(one.partitions[1].state.leader, 2);
	assert_int_equal(one.partitions[1].state.n_isr, 3);
	assert_int_equal(one.partitions[0].zk_version, 0);

	/* The leader shrinks the ISR from the version it read... */
	st[0].isr = shrunk;
	st[0].n_isr = 2;
	assert_int_equal(zkmeta_update_partition_state(leader, "orders", 0, &st[0],
						       one.partitions[0].zk_version,
						       ZKC_ANY_VERSION, &v),
			 0);
	assert_int_equal(v, 1);
	/* ...and a writer still holding the old version is refused. */
	assert_int_equal(zkmeta_update_partition_state(ctl, "orders", 0, &st[0],
						       one.partitions[0].zk_version,
						       c.epoch_zk_version, NULL),
			 -ESTALE);
	assert_int_equal(
		zkmeta_update_partition_state(ctl, "orders", 0, &st[0], v, c.epoch_zk_version, &v),
		0);
	assert_int_equal(v, 2);
	assert_int_equal(zkmeta_update_partition_state(ctl, "orders", 0, &st[0], v,
						       c.epoch_zk_version + 1, NULL),
			 -EPERM);
	assert_int_equal(zkmeta_update_partition_state(ctl, "orders", 5, &st[0], 0,
						       c.epoch_zk_version, NULL),
			 -ENOENT);
	zkmeta_topic_clear(&one);

	/* Reading it all back, in Kafka's documents. */
	assert_int_equal(zkmeta_create_topic(ctl, "audit", &t, NULL), 0);
	n = zkmeta_read_topics(leader, &all, NULL, NULL, why);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].name, "audit");
	assert_string_equal(all[1].name, "orders");
	assert_int_equal(all[1].partitions[0].state.n_isr, 2);
	assert_int_equal(all[1].partitions[0].zk_version, 2);
	zkmeta_topics_free(all, n);
	assert_int_equal(zkc_get(leader, "/brokers/topics/orders/partitions/0/state", &data, &len,
				 NULL, NULL, NULL),
			 0);
	assert_string_equal(data, "{\"controller_epoch\":1,\"leader\":1,\"version\":1,"
				  "\"leader_epoch\":0,\"isr\":[1,2]}");
	free(data);
	assert_int_equal(zkc_get(leader, "/config/topics/orders", &data, &len, NULL, NULL, NULL),
			 0);
	assert_int_equal(zk_config_decode(data, len, &cfg_back, why), 0);
	assert_string_equal(zk_config_get(&cfg_back, "retention.ms"), "60000");
	zk_config_clear(&cfg_back);
	free(data);

	/* ISR change notice, deletion request, cluster id. */
	isrc = (struct zk_isr_change){ &tp, 1 };
	assert_int_equal(zkmeta_notify_isr_change(leader, &isrc), 0);
	n = zkc_children(ctl, ZK_ISR_CHANGE_PATH, &names, NULL, NULL);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "isr_change_0000000000");
	zkc_names_free(names, n);
	assert_int_equal(zkmeta_request_delete_topic(leader, "orders"), 0);
	assert_int_equal(zkmeta_request_delete_topic(leader, "orders"), -EEXIST);
	assert_int_equal(zkmeta_request_delete_topic(leader, "nosuch"), -ENOENT);
	/* An ensemble without an id (new, or its data lost) is told apart
	 * from one with it: reading never makes one. */
	assert_int_equal(zkmeta_cluster_id_read(ctl, id1, why), -ENOENT);
	assert_int_equal(zkc_exists(ctl, ZK_CLUSTER_ID_PATH, NULL, NULL, NULL), -ENOENT);
	assert_int_equal(zkmeta_cluster_id(ctl, id1, why), 0);
	assert_int_equal(zkmeta_cluster_id(leader, id2, why), 0);
	assert_string_equal(id1, id2);
	assert_true(zk_uuid_valid(id1));
	assert_int_equal(zkmeta_cluster_id_read(leader, id2, why), 0);
	assert_string_equal(id1, id2);
	zkc_close(ctl);
	zkc_close(leader);
}

/* ---- malformed documents in znodes ---- */

static void test_malformed_znodes(void **state)
{
	struct zkc *zkc = open_at("/t_bad");
	struct zkmeta_controller c;
	struct zkmeta_topic t, *all;
	char why[ZK_WHY_LEN] = "", id[ZK_UUID_LEN + 1];

	(void)state;
	put(zkc, "/brokers/topics/t1", "{\"version\":3,\"partitions\":{\"0\":\"1\"}}");
	assert_int_equal(zkmeta_read_topic(zkc, "t1", &t, why), -EBADMSG);
	assert_true(why[0] != '\0');
	assert_int_equal(zkmeta_read_topics(zkc, &all, NULL, NULL, why), -EBADMSG);

	put(zkc, "/brokers/topics/t1", "{\"version\":3,\"partitions\":{\"0\":[1]}}");
	put(zkc, "/brokers/topics/t1/partitions/0/state", "{\"leader\":1}");
	/* A state that does not decode fails its partition only: the topic
	 * reads, the partition says why. */
	assert_int_equal(zkmeta_read_topic(zkc, "t1", &t, why), 0);
	assert_false(t.partitions[0].present);
	assert_non_null(t.partitions[0].unreadable);
	assert_non_null(strstr(t.partitions[0].unreadable, "\""));
	zkmeta_topic_clear(&t);

	put(zkc, "/controller_epoch", "one");
	assert_int_equal(zkmeta_elect(zkc, 1, 1, &c, NULL, NULL, why), -EBADMSG);
	put(zkc, "/controller_epoch", "4");
	put(zkc, "/cluster/id", "{\"version\":\"1\"}");
	assert_int_equal(zkmeta_cluster_id(zkc, id, why), -EBADMSG);
	assert_int_equal(zkmeta_cluster_id_read(zkc, id, why), -EBADMSG);
	zkc_close(zkc);
}

/* ---- producer id blocks ---- */

struct taker {
	struct zkc *zkc;
	int32_t broker;
	int64_t first[20], last[20];
	int rc;
};

static void *take_many(void *arg)
{
	struct taker *tk = arg;

	for (int i = 0; i < 20 && tk->rc == 0; i++)
		tk->rc = producer_id_block_take(tk->zkc, tk->broker, &tk->first[i], &tk->last[i]);
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void test_producer_id_blocks(void **state)
{
	struct zkc *zkc = open_at("/t_pid");
	struct taker tk[2] = { { open_at("/t_pid"), 1, { 0 }, { 0 }, 0 },
			       { open_at("/t_pid"), 2, { 0 }, { 0 }, 0 } };
	pthread_t th[2];
	int64_t first, last, all[40];
	char *data;
	size_t len;

	(void)state;
	/* the first block, Kafka's document */
	assert_int_equal(producer_id_block_take(zkc, 3, &first, &last), 0);
	assert_int_equal(first, 0);
	assert_int_equal(last, PRODUCER_ID_BLOCK - 1);
	assert_int_equal(zkc_get(zkc, PRODUCER_ID_BLOCK_PATH, &data, &len, NULL, NULL, NULL), 0);
	assert_string_equal(data, "{\"version\":1,\"broker\":3,\"block_start\":\"0\","
				  "\"block_end\":\"999\"}");
	free(data);
	/* one written by Kafka (or numbers) goes on after it */
	put(zkc, PRODUCER_ID_BLOCK_PATH,
	    "{\"version\":1,\"broker\":0,\"block_start\":\"5000\",\"block_end\":\"5999\"}");
	assert_int_equal(producer_id_block_take(zkc, 3, &first, &last), 0);
	assert_int_equal(first, 6000);
	assert_int_equal(last, 6999);
	/* two brokers at once: disjoint blocks (the conditional write) */
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, take_many, &tk[i]), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(tk[i].rc, 0);
		memcpy(all + 20 * i, tk[i].first, sizeof(tk[i].first));
		zkc_close(tk[i].zkc);
	}
	qsort(all, 40, sizeof(all[0]), cmp64);
	for (int i = 0; i < 40; i++)
		assert_int_equal(all[i], 7000 + (int64_t)i * PRODUCER_ID_BLOCK);
	/* not a block: refused, nothing written */
	put(zkc, PRODUCER_ID_BLOCK_PATH, "{\"version\":1,\"block_start\":\"x\"}");
	assert_int_equal(producer_id_block_take(zkc, 3, &first, &last), -EBADMSG);
	zkc_close(zkc);
}

/* A block source that ZooKeeper may stop answering (a frozen server). */
struct flaky_blocks {
	bool down;
	int takes;
	int64_t end;
};

static int flaky_take(void *arg, int64_t *first, int64_t *last)
{
	struct flaky_blocks *fb = arg;

	if (fb->down)
		return -ETIMEDOUT;
	fb->takes++;
	*first = fb->end + 1;
	*last = fb->end + PRODUCER_ID_BLOCK;
	fb->end = *last;
	return 0;
}

/* A block taken at the start serves ids while ZooKeeper does not answer
 * (the first forwarded write of a broker must not need it); a failed
 * prefetch leaves the first id to take one. */
static void test_producer_ids_prefetch(void **state)
{
	struct flaky_blocks fb = { false, 0, -1 };
	struct producer_ids *pi;
	int64_t id;

	(void)state;
	assert_int_equal(producer_ids_new(flaky_take, &fb, &pi), 0);
	assert_int_equal(producer_ids_prefetch(pi), 0);
	assert_int_equal(fb.takes, 1);
	assert_int_equal(producer_ids_prefetch(pi), 0); /* one left: none taken */
	assert_int_equal(fb.takes, 1);
	fb.down = true;
	for (int i = 0; i < PRODUCER_ID_BLOCK; i++) {
		assert_int_equal(producer_ids_next(pi, &id), 0);
		assert_int_equal(id, i);
	}
	assert_int_equal(producer_ids_next(pi, &id), -ETIMEDOUT);
	producer_ids_free(pi);

	fb = (struct flaky_blocks){ true, 0, -1 };
	assert_int_equal(producer_ids_new(flaky_take, &fb, &pi), 0);
	assert_int_equal(producer_ids_prefetch(pi), -ETIMEDOUT);
	fb.down = false;
	assert_int_equal(producer_ids_next(pi, &id), 0);
	assert_int_equal(id, 0);
	assert_int_equal(fb.takes, 1);
	producer_ids_free(pi);
}

/* ---- a server restart (last: the other tests' sessions are closed) ---- */

static void test_server_restart(void **state)
{
	struct zkc *zkc = NULL;
	char connect[256], *data;
	size_t len;
	int rc, tries;

	(void)state;
	seen_reset(&session_seen);
	snprintf(connect, sizeof(connect), "%s/t_restart", zksrv_group()->connect);
	assert_int_equal(zkc_open(connect, SESSION_MS, CONNECT_MS, on_session, &session_seen, &zkc),
			 0);
	assert_int_equal(zkc_create(zkc, "/mine", "e", 1, ZKC_EPHEMERAL, NULL, 0), 0);
	seen_reset(&session_seen);

	/* Killed and back within the session timeout: the library
	 * reconnects, the owner hears both, the session and its ephemeral
	 * node survive. */
	assert_int_equal(zksrv_restart(zksrv_group()), 0);
	assert_true(seen_wait(&session_seen, ZKC_DISCONNECTED, NULL));
	assert_true(seen_wait(&session_seen, ZKC_CONNECTED, NULL));
	/* A call racing the reconnection may see the loss; the next works. */
	for (tries = 0, rc = -ECONNRESET; tries < 3 && rc == -ECONNRESET; tries++)
		rc = zkc_get(zkc, "/mine", &data, &len, NULL, NULL, NULL);
	assert_int_equal(rc, 0);
	assert_string_equal(data, "e");
	free(data);
	zkc_close(zkc);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The ctime of /config/changes/<name>. */
static int64_t change_ctime(struct zkc *zkc, const char *name)
{
	char path[ZK_PATH_MAX];
	struct zkc_stat st;

	snprintf(path, sizeof(path), "%s/%s", ZK_CONFIG_CHANGES_PATH, name);
	assert_int_equal(zkc_exists(zkc, path, &st, NULL, NULL), 0);
	return st.ctime;
}

/* Notifications older than the age go; younger ones, and znodes that are
 * not notifications, stay; one another broker deleted first is no error. */
static void test_purge_config_changes(void **state)
{
	struct zkc *zkc = open_at("/t_purge");
	char *keys[] = { "retention.ms" }, *values[] = { "60000" };
	struct zk_config cfg = { keys, values, 1 };
	char **names, newest[64];
	int64_t old_ctime, new_ctime, end;
	int n;

	(void)state;
	assert_int_equal(zkmeta_ensure_paths(zkc), 0);
	put(zkc, ZK_CONFIG_CHANGES_PATH "/other", "x");
	assert_int_equal(zkmeta_set_topic_config(zkc, "a", &cfg, ZKC_ANY_VERSION), 0);
	assert_int_equal(zkmeta_set_topic_config(zkc, "b", &cfg, ZKC_ANY_VERSION), 0);
	n = zkc_children(zkc, ZK_CONFIG_CHANGES_PATH, &names, NULL, NULL);
	assert_int_equal(n, 3);
	qsort(names, (size_t)n, sizeof(*names), str_cmp);
	old_ctime = change_ctime(zkc, names[1]);
	/* The third one is created on a later millisecond of the server's
	 * clock (the same machine's). */
	end = now_real_ms() + 5000;
	while (now_real_ms() <= old_ctime + 1 && now_real_ms() < end)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	assert_int_equal(zkmeta_set_topic_config(zkc, "c", &cfg, ZKC_ANY_VERSION), 0);
	zkc_names_free(names, n);
	n = zkc_children(zkc, ZK_CONFIG_CHANGES_PATH, &names, NULL, NULL);
	assert_int_equal(n, 4);
	qsort(names, (size_t)n, sizeof(*names), str_cmp);
	new_ctime = change_ctime(zkc, names[2]);
	assert_true(new_ctime > old_ctime);
	snprintf(newest, sizeof(newest), "%s", names[2]);
	/* As of the newest's creation, with an age just under the gap: the
	 * two older ones go. */
	assert_int_equal(
		zkmeta_purge_config_changes(zkc, names, n, new_ctime, new_ctime - old_ctime - 1),
		2);
	/* Again with the same listing: those are gone already. */
	assert_int_equal(
		zkmeta_purge_config_changes(zkc, names, n, new_ctime, new_ctime - old_ctime - 1),
		0);
	zkc_names_free(names, n);
	n = zkc_children(zkc, ZK_CONFIG_CHANGES_PATH, &names, NULL, NULL);
	assert_int_equal(n, 2);
	qsort(names, (size_t)n, sizeof(*names), str_cmp);
	assert_string_equal(names[0], newest);
	assert_string_equal(names[1], "other");
	zkc_names_free(names, n);
	zkc_close(zkc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_connect),
		cmocka_unit_test(test_chroot_created),
		cmocka_unit_test(test_versions_and_errnos),
		cmocka_unit_test(test_multi),
		cmocka_unit_test(test_watches),
		cmocka_unit_test(test_watch_reread),
		cmocka_unit_test(test_session_expiry),
		cmocka_unit_test(test_register_broker),
		cmocka_unit_test(test_controller_failover),
		cmocka_unit_test(test_topics),
		cmocka_unit_test(test_malformed_znodes),
		cmocka_unit_test(test_producer_id_blocks),
		cmocka_unit_test(test_producer_ids_prefetch),
		cmocka_unit_test(test_server_restart),
		cmocka_unit_test(test_purge_config_changes),
	};

	return cmocka_run_group_tests(tests, zksrv_group_setup, zksrv_group_teardown);
}
