/*
 * net.c — the broker listener's event loops, connections and worker pool
 * (the design, states and limits are written down in net.h).
 *
 * Ownership:
 *   - a connection (struct net_conn) belongs to its loop; only that thread
 *     reads, writes or frees it. It is freed at the end of a loop
 *     iteration (the graveyard), never while an epoll event of the same
 *     batch may still point at it, and never while its request is out
 *     with a worker or parked (req_out): the completion frees it then.
 *   - a request (struct net_req) owns its frame (counted in frame_bytes
 *     until freed, or until the owner it is parked with lets go of the
 *     count: net_req_unreserve, or of the frame itself:
 *     net_req_drop_frame) and its response. It is held by exactly
 *     one of: the loop (deciding, in the backlog, or sending), the work
 *     queue, a worker or the owner it was parked with, the loop's done
 *     list.
 *   - loop->lock guards the loop's incoming and done lists only; srv->qlock
 *     the work queue; srv->iplock the per-address counts; srv->blocklock
 *     the listeners' blocked times (a leaf). No lock is held
 *     while calling a handler, a done callback or the SASL lookup.
 *
 * Invariants:
 *   1. A connection has at most one request (c->req), so responses leave
 *      in request order and an unread response stops reading.
 *   2. A connection's epoll interest is EPOLLIN only in READ_SIZE and
 *      READ_FRAME, and not while muted (muted_until: after a response
 *      whose handler asked for it, net_req_mute), EPOLLOUT only while a
 *      response is blocked on a full socket, EPOLLRDHUP from a request's
 *      arrival until the client's end is seen once or the response is
 *      blocked, nothing otherwise.
 *   3. frame_bytes is the sum of the frames held (but those of parked
 *      requests unreserved), parked_frame_bytes that of the unreserved
 *      frames still held (a dropped frame is in neither: its bytes are
 *      freed, only its size is kept, for net_req_size); a frame is
 *      reserved only while
 *      frame_bytes < queued.max.request.bytes (so the total exceeds
 *      the limit by less than one frame, and a frame larger than the limit
 *      can still be served alone, as Kafka's non-strict pool allows).
 *   4. Connections not at a worker are on their loop's LRU list, oldest
 *      activity first; those at a worker are on the busy list. Only the
 *      LRU list is expired by connections.max.idle.ms.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "repl/net.h"
#include "repl/repl.h"
#include "util/clock.h"
#include "util/fdroom.h"

#define N_API_KEYS        128
#define IP_BUCKETS        256
#define EVENTS_PER_WAIT   64
#define ACCEPTS_PER_EVENT 64

enum obj_kind { OBJ_LISTENER, OBJ_CONN, OBJ_WAKE };

/* HELD: a failed authentication waits out connection.failed.
 * authentication.delay.ms (conn_hold_failed), its answer (if any) in req. */
enum conn_state { READ_SIZE, READ_FRAME, WAIT_MEM, BUSY, HELD };

/* Where a SASL_PLAINTEXT connection stands (net.h). */
enum auth_state {
	AUTH_START,     /* nothing yet: ApiVersions or SaslHandshake */
	AUTH_HANDSHAKE, /* after ApiVersions: SaslHandshake only */
	AUTH_SCRAM,     /* after handshake v1: SaslAuthenticate */
	AUTH_SCRAM_RAW, /* after handshake v0: bare tokens */
	AUTH_DONE,
};

struct net_listener {
	enum obj_kind kind;
	int fd;
	int idx;
	int port;
	int64_t paused_until; /* mono ms: accepts stopped (out of descriptors), 0 */
	/* At max.connections: out of the loop's epoll until a connection
	 * closes or the limit is raised (loop 0 only; accept_full). */
	bool full;
	/* Under srv->blocklock (loop 0 writes, net_server_stats reads): the
	 * mono ns the listener became full (0: it is not), and the ns it was
	 * full before, Kafka's AcceptorBlockedPercent meter's total. */
	int64_t full_since_ns;
	int64_t blocked_ns;
};

struct net_loop;

struct net_conn {
	enum obj_kind kind;
	int fd;
	struct net_loop *loop;
	int listener;
	uint8_t ip[16]; /* the address as a table key */
	char peer[64];
	enum conn_state state;
	uint32_t events;
	uint8_t size_buf[4];
	size_t size_got;
	uint8_t *frame;
	size_t frame_len, frame_got;
	struct net_req *req; /* invariant 1 */
	bool req_out;        /* req at a worker, parked or done-listed */
	bool in_backlog;
	bool close_after_write;
	bool closed;
	int64_t last_active;
	bool uncounted;               /* out of st.connections already (loop_close_excess) */
	struct net_conn *prev, *next; /* LRU or busy list */
	struct net_conn *wait_next;   /* memwait list */
	bool waiting_mem;
	struct net_conn *grave_next;
	enum auth_state auth;
	bool auth_failed; /* the request just met failed authentication */
	struct sasl_server *sasl;
	/* The mechanism of the exchange under way, then of the session; a
	 * re-authentication that asked another one (Kafka's
	 * REAUTH_BAD_MECHANISM: its handshake passes, its SaslAuthenticate
	 * fails) has bad_mech set and no sasl. */
	enum sasl_mech mech;
	bool bad_mech;
	enum sasl_mech asked_mech;
	char user[SASL_MAX_USER + 1];
	bool token; /* user was authenticated by a delegation token (its owner) */
	/* KIP-368 (net.h): the session's end (monotonic ms; 0: none), the
	 * start of the last re-authentication (0: none yet), and whether
	 * one is under way (auth != AUTH_DONE after a first success: user
	 * is the principal it must keep). */
	int64_t session_end;
	int64_t reauth_began;
	bool reauthenticating;
	int64_t muted_until; /* not read before (monotonic ms); 0: not muted */
};

struct net_req {
	struct net_conn *conn;
	uint8_t *frame;
	size_t frame_len;
	/* net_req_drop_frame: frame freed (NULL), frame_len kept; the
	 * header's client id copied here (msg.hdr.client_id points at it),
	 * the body's decoded message freed (zeroed). */
	char *client_id;
	struct proto_req msg;
	struct proto_out out;
	size_t counted;          /* bytes added to response_bytes */
	size_t piece, piece_off; /* send progress */
	/* A file piece whose sendfile failed: its -errno and fd, for the
	 * done callback (net_req_file_error). */
	int file_err, file_err_fd;
	net_done_fn done_fn;
	void *done_arg;
	int rc;
	int cancelled;           /* __atomic */
	net_cancel_fn cancel_fn; /* __atomic: net_req_on_cancel */
	void *cancel_arg;
	bool no_response;     /* net_req_no_response: nothing to send */
	bool unreserved;      /* net_req_unreserve: frame_len not in frame_bytes */
	int32_t mute_ms;      /* net_req_mute: not read for this long after */
	struct net_req *next; /* queue, backlog or done list */
	/* The overdue-Fetch check (loop_check_late): when the request left
	 * the loop's hands (dispatch, mono ms), where it is since (__atomic,
	 * enum req_stage) and whether it was logged late (loop only). */
	int64_t out_ms;
	int stage;
	bool late_logged;
};

/* Where a dispatched request is, as loop_check_late reports it. RUNNING
 * is a handler's until it returns; a worker's request that is neither
 * queued, running nor done is parked with its owner (NET_PARKED). */
enum req_stage { STAGE_BACKLOG, STAGE_QUEUED, STAGE_RUNNING, STAGE_DONE };

struct net_incoming {
	int fd;
	int listener;
	uint8_t ip[16];
	char peer[64];
	struct net_incoming *next;
};

struct conn_list {
	struct net_conn *head, *tail;
};

struct net_loop {
	struct net_server *srv;
	int idx;
	int epfd;
	int efd;
	enum obj_kind wake_kind; /* epoll data of efd points here */
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	struct net_incoming *incoming;
	struct net_req *done_head, *done_tail;
	bool self_done; /* a request run on this thread is done-listed (loop only) */
	int cpu;        /* __atomic: where the loop last woke (net_wakes_flush) */
	/* loop thread only */
	struct conn_list lru, busy;
	struct net_conn *memwait_head, *memwait_tail;
	struct net_req *backlog_head, *backlog_tail;
	struct net_conn *grave;
	int64_t outstanding;     /* requests at workers or parked */
	bool shut;               /* connections closed for stop */
	int n_muted;             /* connections muted (on the LRU list) */
	int64_t next_unmute;     /* the earliest muted_until of them */
	int64_t next_late_check; /* loop_check_late's next look (mono ms) */
};

struct ip_count {
	uint8_t ip[16];
	int count;
	struct ip_count *next;
};

struct net_server {
	struct net_config cfg;
	sasl_lookup_fn lookup;
	void *lookup_arg;
	sasl_token_fn tokens; /* delegation tokens, or NULL */
	void *tokens_arg;
	struct {
		net_handler_fn fn;
		void *arg;
		net_pick_fn pick; /* requests run on the loop thread */
	} handlers[N_API_KEYS];
	void *authz; /* net_server_set_authz: the owner's, never looked into */
	struct net_listener lst[NET_MAX_LISTENERS];
	int n_loops;
	struct net_loop *loops;
	int n_workers;
	pthread_t *workers;
	/* __atomic: the request each worker's handler runs now, NULL none
	 * (loop_check_late tells a running handler from a parked request). */
	struct net_req **running;
	int worker_seq;        /* __atomic: hands each worker its running slot */
	int64_t fetch_late_ms; /* net_server_set_fetch_late_ms */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct net_req *q_head, *q_tail;
	int q_len;
	pthread_mutex_t iplock;
	struct ip_count *ips[IP_BUCKETS];
	pthread_mutex_t blocklock; /* the listeners' full_since_ns, blocked_ns */
	unsigned next_loop;        /* loop 0 only */
	int stopping;              /* __atomic */
	int memwaiters;            /* __atomic: connections in WAIT_MEM */
	bool started, stopped;
	/* net_server_hold_accepts: start binds and listens but accepts
	 * nothing until net_server_accept (a cluster broker before it is
	 * registered and knows its topics); accepting is __atomic, set once. */
	bool hold_accepts;
	int accepting;
	/* Kafka's protected listener: the inter-broker one, exempt from
	 * max.connections when there are others (net_server_protect_listener);
	 * -1: none. Set before start. */
	int protected_listener;
	/* __atomic: some listener is full (waits for a slot); whoever frees
	 * one or raises max.connections wakes loop 0 to take it back. */
	int accept_full;
	const struct io_ops *io; /* reads the file pieces (net_server_set_io) */
	struct net_stats st;     /* __atomic fields */
};

#define STAT_ADD(srv, f, n) __atomic_add_fetch(&(srv)->st.f, (n), __ATOMIC_RELAXED)

/* A Fetch still unanswered NET_FETCH_LATE_MS past its max_wait_ms
 * (records or not, its leader answers by then), or an
 * OffsetForLeaderEpoch that long, is logged, once (loop_check_late): a
 * follower's that is lost holds every acks=all write of its partitions
 * for request.timeout.ms, and the line says where it is stuck. The loop
 * looks when the earliest such time comes (next_late_check), not on a
 * tick. */
#define NET_FETCH_LATE_MS 5000

/* When req, dispatched, is late (mono ms); INT64_MAX: never (another
 * API, or logged already). */
static int64_t late_due(const struct net_server *srv, const struct net_req *req)
{
	int16_t key = req->msg.hdr.api_key;
	int32_t wait = key == PROTO_API_FETCH ? req->msg.u.fetch.max_wait_ms : 0;

	if (req->late_logged ||
	    (key != PROTO_API_FETCH && key != PROTO_API_OFFSET_FOR_LEADER_EPOCH))
		return INT64_MAX;
	return req->out_ms + (wait > 0 ? wait : 0) + srv->fetch_late_ms;
}

static const char *api_name(int16_t api_key)
{
	const struct proto_api *a = proto_api_find(api_key);

	return a ? a->name : "unknown API";
}

static void loop_wake(struct net_loop *loop)
{
	uint64_t one = 1;

	/* The counter saturates long before anyone could care; a failed
	 * write means it is already non-zero, i.e. the loop will wake. */
	if (write(loop->efd, &one, sizeof(one)) < 0) {
		/* nothing to do */
	}
}

static void loops_wake_all(struct net_server *srv)
{
	for (int i = 0; i < srv->n_loops; i++)
		loop_wake(&srv->loops[i]);
}

/* ---- lists ---- */

static void list_del(struct conn_list *l, struct net_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

static void list_add_tail(struct conn_list *l, struct net_conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

/* Marks activity: the connection goes to the LRU's tail. */
static void conn_touch(struct net_conn *c)
{
	struct net_loop *loop = c->loop;

	c->last_active = now_mono_ms();
	if (c->req_out)
		return;
	list_del(&loop->lru, c);
	list_add_tail(&loop->lru, c);
}

/* ---- per-address counts (srv->iplock) ---- */

static unsigned ip_hash(const uint8_t ip[16])
{
	unsigned h = 2166136261u;

	for (int i = 0; i < 16; i++)
		h = (h ^ ip[i]) * 16777619u;
	return h % IP_BUCKETS;
}

/* Counts one more connection from ip unless it has max already: 0 or
 * -EMFILE (over the limit), -ENOMEM. */
static int ip_take(struct net_server *srv, const uint8_t ip[16], int max)
{
	struct ip_count **pp = &srv->ips[ip_hash(ip)], *e;
	int rc = 0;

	pthread_mutex_lock(&srv->iplock);
	for (e = *pp; e && memcmp(e->ip, ip, 16); e = e->next)
		;
	if (!e && max <= 0) {
		/* Refused with nothing to count: an entry holds a count of
		 * one or more (ip_give frees it at zero), else every address
		 * ever refused would keep one. */
		rc = -EMFILE;
		goto out;
	}
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(e->ip, ip, 16);
		e->next = *pp;
		*pp = e;
	}
	if (e->count >= max)
		rc = -EMFILE;
	else
		e->count++;
out:
	pthread_mutex_unlock(&srv->iplock);
	return rc;
}

static void ip_give(struct net_server *srv, const uint8_t ip[16])
{
	struct ip_count **pp = &srv->ips[ip_hash(ip)], *e;

	pthread_mutex_lock(&srv->iplock);
	for (; (e = *pp) && memcmp(e->ip, ip, 16); pp = &e->next)
		;
	if (e && --e->count <= 0) {
		*pp = e->next;
		free(e);
	}
	pthread_mutex_unlock(&srv->iplock);
}

/* ---- frame memory (invariant 3) ---- */

/* Kafka's ConnectionQuotas.connectionSlotAvailable: the protected
 * (inter-broker) listener always has one; another while fewer than
 * max.connections are open, those of the protected listener counted. */
static bool slot_free(struct net_server *srv, int listener)
{
	if (listener == srv->protected_listener)
		return true;
	return __atomic_load_n(&srv->st.connections, __ATOMIC_SEQ_CST) <
	       __atomic_load_n(&srv->cfg.max_connections, __ATOMIC_RELAXED);
}

/* One connection fewer. A full listener waits for this: loop 0 is woken
 * to take it back (accept_full, set before the listener's last look). */
static void conn_count_drop(struct net_server *srv, bool counted)
{
	if (counted)
		__atomic_sub_fetch(&srv->st.connections, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&srv->accept_full, __ATOMIC_SEQ_CST))
		loop_wake(&srv->loops[0]);
}

static bool mem_reserve(struct net_server *srv, size_t n)
{
	int64_t limit = srv->cfg.queued_max_request_bytes;

	if (limit >= 0 && __atomic_load_n(&srv->st.frame_bytes, __ATOMIC_RELAXED) >= limit)
		return false;
	STAT_ADD(srv, frame_bytes, (int64_t)n);
	return true;
}

static void mem_release(struct net_server *srv, size_t n)
{
	if (!n)
		return;
	STAT_ADD(srv, frame_bytes, -(int64_t)n);
	if (__atomic_load_n(&srv->memwaiters, __ATOMIC_RELAXED) > 0)
		for (int i = 0; i < srv->n_loops; i++)
			loop_wake(&srv->loops[i]);
}

/* ---- requests ---- */

/* Runs the done callback with status and frees req (loop thread). */
static void req_free(struct net_req *req, int status)
{
	struct net_server *srv;

	if (!req)
		return;
	srv = req->conn->loop->srv;
	if (req->done_fn)
		req->done_fn(req->done_arg, req, status);
	proto_req_free(&req->msg);
	proto_out_free(&req->out);
	if (req->counted)
		STAT_ADD(srv, response_bytes, -(int64_t)req->counted);
	if (req->frame && req->unreserved)
		STAT_ADD(srv, parked_frame_bytes, -(int64_t)req->frame_len);
	free(req->frame);
	free(req->client_id);
	if (!req->unreserved)
		mem_release(srv, req->frame_len);
	free(req);
}

const struct proto_req *net_req_msg(const struct net_req *req)
{
	return &req->msg;
}
struct proto_out *net_req_out(struct net_req *req)
{
	return &req->out;
}
size_t net_req_size(const struct net_req *req)
{
	return req->frame_len;
}
const char *net_req_peer(const struct net_req *req)
{
	return req->conn->peer;
}
int net_req_listener(const struct net_req *req)
{
	return req->conn->listener;
}

const char *net_req_user(const struct net_req *req)
{
	return req->conn->auth == AUTH_DONE && req->conn->user[0] ? req->conn->user : NULL;
}

bool net_req_token_auth(const struct net_req *req)
{
	return net_req_user(req) && req->conn->token;
}

void net_server_set_tokens(struct net_server *srv, sasl_token_fn fn, void *arg)
{
	srv->tokens = fn;
	srv->tokens_arg = arg;
}

void net_server_set_authz(struct net_server *srv, void *authz)
{
	srv->authz = authz;
}

void *net_req_authz(const struct net_req *req)
{
	return req->conn->loop->srv->authz;
}

bool net_req_cancelled(const struct net_req *req)
{
	return __atomic_load_n(&req->cancelled, __ATOMIC_SEQ_CST) != 0;
}

void net_req_no_response(struct net_req *req)
{
	req->no_response = true;
}

void net_req_mute(struct net_req *req, int32_t ms)
{
	req->mute_ms = ms > 0 ? ms : 0;
}

void net_req_unreserve(struct net_req *req)
{
	if (req->unreserved)
		return;
	req->unreserved = true;
	if (req->frame)
		STAT_ADD(req->conn->loop->srv, parked_frame_bytes, (int64_t)req->frame_len);
	mem_release(req->conn->loop->srv, req->frame_len);
}

int net_req_drop_frame(struct net_req *req)
{
	struct net_server *srv = req->conn->loop->srv;
	struct proto_req_hdr hdr = req->msg.hdr;
	struct kstr *id = &hdr.client_id;

	if (!req->frame)
		return 0;
	/* The client id outlives the frame: quotas read it when the
	 * request is answered. Allocated before anything changes, so a
	 * failure leaves the request as it was. */
	if (id->ptr && id->len > 0) {
		req->client_id = malloc((size_t)id->len);
		if (!req->client_id)
			return -ENOMEM;
		memcpy(req->client_id, id->ptr, (size_t)id->len);
		id->ptr = req->client_id;
	} else if (id->ptr) {
		id->ptr = "";
	}
	/* The body's strings and records point into the frame: the decoded
	 * body goes with it, zeroed (proto_req_free), so that nothing
	 * (req_free's proto_req_free included) reads through it. The header
	 * is put back: the response, quotas, the late check and the close's
	 * log use it. */
	proto_req_free(&req->msg);
	req->msg.hdr = hdr;
	free(req->frame);
	req->frame = NULL;
	if (req->unreserved)
		STAT_ADD(srv, parked_frame_bytes, -(int64_t)req->frame_len);
	else
		mem_release(srv, req->frame_len);
	req->unreserved = true; /* nothing of it left in frame_bytes */
	STAT_ADD(srv, frames_dropped, 1);
	return 0;
}

void net_req_on_done(struct net_req *req, net_done_fn fn, void *arg)
{
	req->done_fn = fn;
	req->done_arg = arg;
}

/* Sequentially consistent with conn_close's store of cancelled and load
 * of the hook: a handler that sets the hook and then finds the request
 * not cancelled is sure the hook runs if the connection goes. */
void net_req_on_cancel(struct net_req *req, net_cancel_fn fn, void *arg)
{
	req->cancel_arg = arg;
	__atomic_store_n(&req->cancel_fn, fn, __ATOMIC_SEQ_CST);
}

size_t net_req_begin(struct net_req *req)
{
	const struct proto_req_hdr *h = &req->msg.hdr;

	return proto_resp_begin(&req->out.w, h->api_key, h->api_version, h->correlation_id);
}

int net_req_end(struct net_req *req, size_t pos)
{
	return proto_out_finish(&req->out, pos);
}

/* Puts req, answered with rc, on its loop's done list. */
static void done_list(struct net_req *req, int rc)
{
	struct net_loop *loop = req->conn->loop;

	req->rc = rc > 0 ? -EINVAL : rc;
	req->next = NULL;
	__atomic_store_n(&req->stage, STAGE_DONE, __ATOMIC_RELEASE);
	pthread_mutex_lock(&loop->lock);
	if (loop->done_tail)
		loop->done_tail->next = req;
	else
		loop->done_head = req;
	loop->done_tail = req;
	pthread_mutex_unlock(&loop->lock);
}

void net_req_complete(struct net_req *req, int rc)
{
	/* Once listed, req is the loop's: it may send the reply and free req
	 * (and its connection) before done_list returns here, so the loop is
	 * taken first (it lives as long as the server). */
	struct net_loop *loop = req->conn->loop;

	done_list(req, rc);
	loop_wake(loop);
}

void net_req_complete_held(struct net_req *req, int rc, struct net_wakes *w)
{
	struct net_loop *loop = req->conn->loop; /* as net_req_complete */
	int n_loops = loop->srv->n_loops, i;

	done_list(req, rc);
	for (i = 0; i < w->n && w->loop[i] != loop; i++)
		;
	if (i == w->n)
		w->loop[w->n++] = loop;
	if (++w->held >= NET_WAKES_HOLD || w->n == n_loops || w->n == NET_WAKES_MAX)
		net_wakes_flush(w);
}

void net_wakes_flush(struct net_wakes *w)
{
	int me = sched_getcpu();

	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < w->n; i++) {
			bool here = __atomic_load_n(&w->loop[i]->cpu, __ATOMIC_RELAXED) == me;

			if (here == (pass == 1))
				loop_wake(w->loop[i]);
		}
	w->n = 0;
	w->held = 0;
}

/* ---- connections ---- */

static int conn_set_events(struct net_conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (c->events == events)
		return 0;
	if (epoll_ctl(c->loop->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		return -errno;
	c->events = events;
	return 0;
}

static void memwait_del(struct net_conn *c)
{
	struct net_loop *loop = c->loop;
	struct net_conn **pp = &loop->memwait_head, *prev = NULL;

	if (!c->waiting_mem)
		return;
	for (; *pp && *pp != c; pp = &(*pp)->wait_next)
		prev = *pp;
	if (*pp)
		*pp = c->wait_next;
	if (loop->memwait_tail == c)
		loop->memwait_tail = prev;
	c->wait_next = NULL;
	c->waiting_mem = false;
	__atomic_sub_fetch(&loop->srv->memwaiters, 1, __ATOMIC_RELAXED);
}

static void backlog_del(struct net_loop *loop, struct net_req *req)
{
	struct net_req **pp = &loop->backlog_head, *prev = NULL;

	for (; *pp && *pp != req; pp = &(*pp)->next)
		prev = *pp;
	if (*pp)
		*pp = req->next;
	if (loop->backlog_tail == req)
		loop->backlog_tail = prev;
	req->next = NULL;
}

/* The client went (its connection closed, or its side of it) while req
 * is out: its owner is told once (net_req_on_cancel), on the loop thread. */
static void req_cancel(struct net_req *req)
{
	net_cancel_fn fn;

	if (__atomic_exchange_n(&req->cancelled, 1, __ATOMIC_SEQ_CST))
		return;
	fn = __atomic_load_n(&req->cancel_fn, __ATOMIC_SEQ_CST);
	if (fn)
		fn(req->cancel_arg);
}

/* The SCRAM state (the user's stored keys, the exchange's messages) is
 * the exchange's only: dropped when it ends, passed or refused, as Kafka
 * disposes of its SaslServer; what the connection keeps is c->user. */
static void conn_sasl_end(struct net_conn *c)
{
	if (!c->sasl)
		return;
	sasl_server_free(c->sasl);
	c->sasl = NULL;
	STAT_ADD(c->loop->srv, sasl_exchanges, -1);
}

/* Closes c (idempotent); why is logged at level when not NULL. The struct
 * goes to the graveyard, or stays until its request comes back. */
static void conn_close(struct net_conn *c, int level, const char *why)
{
	struct net_loop *loop = c->loop;
	struct net_server *srv = loop->srv;

	if (c->closed)
		return;
	/* Debug-level reasons (a peer leaving, idle expiry) are routine and
	 * would only eat the rate limit of the lines that matter. */
	if (why && level <= MQ_INFO)
		mq_log_limited(level, "net: %s: %s; closing the connection", c->peer, why);
	c->closed = true;
	if (c->muted_until) {
		c->muted_until = 0;
		loop->n_muted--;
	}
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	memwait_del(c);
	list_del(c->req_out ? &loop->busy : &loop->lru, c);
	/* In WAIT_MEM frame_len is known but nothing was reserved. */
	if (c->frame)
		mem_release(srv, c->frame_len);
	free(c->frame);
	c->frame = NULL;
	c->frame_len = 0;
	ip_give(srv, c->ip);
	conn_count_drop(srv, !c->uncounted);
	conn_sasl_end(c);
	if (c->req && c->req_out) {
		req_cancel(c->req);
		return; /* freed when the request comes back */
	}
	if (c->req) {
		if (c->in_backlog)
			backlog_del(loop, c->req);
		req_free(c->req, -ECONNRESET);
		c->req = NULL;
	}
	c->grave_next = loop->grave;
	loop->grave = c;
}

static void conn_add(struct net_loop *loop, int fd, int listener, const uint8_t ip[16],
		     const char *peer)
{
	struct net_server *srv = loop->srv;
	struct net_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN };
	int one = 1;

	if (!c)
		goto fail;
	c->kind = OBJ_CONN;
	c->fd = fd;
	c->loop = loop;
	c->listener = listener;
	memcpy(c->ip, ip, 16);
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->state = READ_SIZE;
	c->events = EPOLLIN;
	c->auth = srv->cfg.listeners[listener].security == NET_SASL_PLAINTEXT ? AUTH_START
									      : AUTH_DONE;
	/* Responses are whole frames written at once: no Nagle delay. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ev.data.ptr = c;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev))
		goto fail;
	c->last_active = now_mono_ms();
	list_add_tail(&loop->lru, c);
	return;
fail:
	mq_log_limited(MQ_WARN, "net: %s: cannot take the connection: %s", peer, strerror(errno));
	free(c);
	close(fd);
	ip_give(srv, ip);
	conn_count_drop(srv, true);
}

/* ---- sending ---- */

/* Sends what is left of c->req's response: 0 all sent, 1 the socket is
 * full, -errno. */
static int conn_send(struct net_conn *c)
{
	struct net_req *req = c->req;
	struct proto_out *out = &req->out;

	while (req->piece < out->n_pieces) {
		const struct proto_piece *pc = &out->pieces[req->piece];
		size_t left = pc->len - req->piece_off;
		ssize_t n;

		if (pc->kind == PROTO_PIECE_MEM) {
			n = send(c->fd, out->w.buf + pc->offset + req->piece_off, left,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		} else {
			off_t off = pc->offset + (off_t)req->piece_off;
			const struct io_ops *io = c->loop->srv->io;

			n = io->sendfile(io->ctx, c->fd, pc->fd, &off, left);
			if (n == 0)
				n = -ENODATA; /* the file is shorter than promised */
			if (n < 0 && n != -EINTR && n != -EAGAIN && n != -EWOULDBLOCK) {
				req->file_err = (int)n;
				req->file_err_fd = pc->fd;
				return (int)n;
			}
			if (n < 0) {
				errno = (int)-n;
				n = -1;
			}
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -errno;
		}
		conn_touch(c);
		req->piece_off += (size_t)n;
		if (req->piece_off == pc->len) {
			req->piece++;
			req->piece_off = 0;
		}
	}
	return 0;
}

/* Sends as much as the socket takes; when done, frees the request and
 * listens again (or closes when the response was the last word). The
 * caller reads on: conn_read's own loop, or the event that got here. */
/* Back to reading requests once a response is out; after a throttled
 * one (mute_ms, Kafka's KIP-219) not before its throttle time: the
 * connection is not read till then, so a client that ignores the
 * throttle time waits anyway. */
static void conn_mute(struct net_conn *c, int64_t ms)
{
	struct net_loop *loop = c->loop;

	c->muted_until = now_mono_ms() + ms;
	if (!loop->n_muted++ || c->muted_until < loop->next_unmute)
		loop->next_unmute = c->muted_until;
	conn_set_events(c, 0);
}

static void conn_read_next(struct net_conn *c, int32_t mute_ms)
{
	struct net_loop *loop = c->loop;

	c->state = READ_SIZE;
	if (mute_ms <= 0) {
		conn_set_events(c, EPOLLIN);
		return;
	}
	conn_mute(c, mute_ms);
	STAT_ADD(loop->srv, muted, 1);
}

/* A failed authentication (where Kafka's authenticator throws an
 * AuthenticationException: a wrong password, a mechanism not enabled, a
 * request out of turn, a frame over sasl.server.max.receive.size): as
 * Kafka's Selector does, its answer (c->req when rc is 0; none
 * otherwise) is sent and the connection closed only connection.failed.
 * authentication.delay.ms later, nothing read meanwhile, so that a
 * client trying passwords, or one failing and reconnecting at once, is
 * slowed down. False with no delay set: the caller answers and closes
 * now. */
static bool conn_hold_failed(struct net_conn *c, int rc)
{
	int64_t delay = c->loop->srv->cfg.failed_auth_delay_ms;

	c->auth_failed = false;
	if (delay <= 0)
		return false;
	if (rc && c->req) {
		req_free(c->req, -ECONNRESET);
		c->req = NULL;
	}
	c->close_after_write = true;
	c->state = HELD;
	conn_mute(c, delay);
	return true;
}

static void conn_reply(struct net_conn *c);

/* The muted connections whose time has come are read again (loop
 * thread); next_unmute becomes the earliest of those left. */
static void loop_unmute(struct net_loop *loop)
{
	int64_t now = now_mono_ms(), next = INT64_MAX;
	struct net_conn *nx;

	if (!loop->n_muted || now < loop->next_unmute)
		return;
	/* nx first: a held connection's close takes it off the list. */
	for (struct net_conn *c = loop->lru.head; c; c = nx) {
		nx = c->next;
		if (!c->muted_until)
			continue;
		if (c->muted_until > now) {
			if (c->muted_until < next)
				next = c->muted_until;
			continue;
		}
		/* Its muted time counts as idle (connections.max.idle.ms): it
		 * stays where it is on the LRU list. */
		c->muted_until = 0;
		loop->n_muted--;
		if (c->state == HELD) {
			/* A failed authentication's delay is over: its
			 * answer goes out, then the connection closes
			 * (close_after_write); without one it closes now. */
			c->state = BUSY;
			if (c->req)
				conn_reply(c);
			else
				conn_close(c, 0, NULL);
			continue;
		}
		conn_set_events(c, EPOLLIN);
	}
	loop->next_unmute = next;
}

static void conn_flush(struct net_conn *c)
{
	int32_t mute;
	int rc = conn_send(c);

	if (rc < 0) {
		char why[128];

		/* A file piece's failure is told with its errno: the socket's
		 * (the peer went: routine) or the file's, where -EIO is a
		 * read of the disk that failed (the done callback hands that
		 * to its owner, net_req_file_error). */
		if (rc == -ENODATA)
			snprintf(why, sizeof(why),
				 "a file piece of a response was cut short (the file is shorter "
				 "than promised)");
		else if (c->req->file_err)
			snprintf(why, sizeof(why), "sending a file piece of a response: %s",
				 strerror(-rc));
		else
			snprintf(why, sizeof(why), "send failed: %s", strerror(-rc));
		conn_close(c, c->req->file_err == -EIO ? MQ_ERR : MQ_INFO, why);
		return;
	}
	if (rc == 1) {
		conn_set_events(c, EPOLLOUT);
		return;
	}
	mute = c->req->mute_ms;
	req_free(c->req, 0);
	c->req = NULL;
	if (c->close_after_write) {
		conn_close(c, 0, NULL);
		return;
	}
	conn_read_next(c, mute);
}

/* Starts sending c->req's finished response. */
static void conn_reply(struct net_conn *c)
{
	struct net_req *req = c->req;

	if (req->no_response) {
		int32_t mute = req->mute_ms;

		req_free(c->req, 0);
		c->req = NULL;
		conn_read_next(c, mute);
		return;
	}
	if (req->out.total < 4 || !req->out.n_pieces) {
		mq_log_limited(MQ_ERR, "net: %s: the %s handler returned no response", c->peer,
			       api_name(req->msg.hdr.api_key));
		conn_close(c, 0, NULL);
		return;
	}
	req->counted = req->out.w.cap;
	STAT_ADD(c->loop->srv, response_bytes, (int64_t)req->counted);
	req->piece = req->piece_off = 0;
	conn_flush(c);
}

/* ---- requests the listener answers ---- */

/* The APIs this server answers: its own (ApiVersions, SASL) and those
 * with a handler, so a client never sees an API it would be refused. */
static bool api_served(void *arg, int16_t api_key)
{
	const struct net_server *srv = arg;

	if (api_key == PROTO_API_API_VERSIONS || api_key == PROTO_API_SASL_HANDSHAKE ||
	    api_key == PROTO_API_SASL_AUTHENTICATE)
		return true;
	return api_key >= 0 && api_key < N_API_KEYS && srv->handlers[api_key].fn;
}

static bool api_none(void *arg, int16_t api_key)
{
	(void)arg;
	(void)api_key;
	return false;
}

/* Kafka's answers: a version above ours UNSUPPORTED_VERSION in a v0 body
 * with our table (the client picks from it); a v3+ request whose client
 * software name or version is not a word of letters, digits, '.' and '-'
 * INVALID_REQUEST with no table (ApiVersionsRequest.isValid). */
static int answer_api_versions(struct net_req *req, bool unsupported)
{
	const struct proto_req_hdr *h = &req->msg.hdr;
	const struct proto_api_versions_req *m = &req->msg.u.api_versions;
	int16_t v = unsupported ? 0 : h->api_version;
	int16_t err = unsupported ? PROTO_ERR_UNSUPPORTED_VERSION : PROTO_ERR_NONE;
	size_t pos = proto_resp_begin(&req->out.w, h->api_key, v, h->correlation_id);

	if (!unsupported && !proto_api_versions_req_valid(v, m)) {
		struct kstr name = m->client_software_name, ver = m->client_software_version;

		err = PROTO_ERR_INVALID_REQUEST;
		mq_log_limited(MQ_WARN,
			       "net: %s: ApiVersions v%d: client software name \"%.*s\" or "
			       "version \"%.*s\" is not letters, digits, '.' and '-' "
			       "(INVALID_REQUEST)",
			       net_req_peer(req), v, name.len > 0 ? (int)name.len : 0,
			       name.len > 0 ? name.ptr : "", ver.len > 0 ? (int)ver.len : 0,
			       ver.len > 0 ? ver.ptr : "");
	}
	proto_api_versions_resp_encode_served(
		&req->out.w, v, err, 0, err == PROTO_ERR_INVALID_REQUEST ? api_none : api_served,
		req->conn->loop->srv);
	return proto_out_finish(&req->out, pos);
}

static int answer_handshake(struct net_conn *c, struct net_req *req, int16_t error_code)
{
	struct proto_sasl_handshake_resp resp = { .error_code = error_code };
	size_t pos = net_req_begin(req);

	/* Only the refusal of a mechanism lists the enabled ones: Kafka's
	 * ILLEGAL_SASL_STATE answers (KafkaApis, getErrorResponse) carry
	 * none. */
	if (error_code != PROTO_ERR_ILLEGAL_SASL_STATE &&
	    c->loop->srv->cfg.listeners[c->listener].security == NET_SASL_PLAINTEXT)
		for (int m = 0; m < SASL_N_MECH; m++)
			if (c->loop->srv->cfg.sasl_scram[m])
				resp.mechanisms[resp.n_mechanisms++] =
					kstr_of(sasl_mech_name((enum sasl_mech)m));
	proto_sasl_handshake_resp_encode(&req->out.w, req->msg.hdr.api_version, &resp);
	return net_req_end(req, pos);
}

static int answer_auth_lifetime(struct net_req *req, int16_t error_code, const char *message,
				const char *bytes, size_t len, int64_t lifetime_ms)
{
	struct proto_sasl_auth_resp resp = {
		.error_code = error_code,
		.error_message = message ? kstr_of(message) : KSTR_NULL,
		.auth_bytes = { bytes ? bytes : "", (int32_t)len },
		.session_lifetime_ms = lifetime_ms,
	};
	size_t pos = net_req_begin(req);

	proto_sasl_auth_resp_encode(&req->out.w, req->msg.hdr.api_version, &resp);
	return net_req_end(req, pos);
}

static int answer_auth(struct net_req *req, int16_t error_code, const char *message,
		       const char *bytes, size_t len)
{
	return answer_auth_lifetime(req, error_code, message, bytes, len, 0);
}

/* One SCRAM step with the client's token: 0 with the answer built in req
 * (raw: a bare size-prefixed token), or -errno when the connection must
 * simply close. */
static int conn_sasl_step(struct net_conn *c, struct net_req *req, const uint8_t *in, size_t in_len,
			  bool raw)
{
	struct net_server *srv = c->loop->srv;
	const char *out = NULL, *msg;
	size_t out_len = 0, pos;
	int64_t lifetime = 0;
	char changed[2 * SASL_MAX_USER + 80];
	int rc;

	if (c->bad_mech) {
		snprintf(changed, sizeof(changed),
			 "SASL mechanism '%s' requested by client is not supported for "
			 "re-authentication of mechanism '%s'",
			 sasl_mech_name(c->asked_mech), sasl_mech_name(c->mech));
		STAT_ADD(srv, auth_failures, 1);
		mq_log_limited(MQ_WARN, "net: %s: SaslAuthenticate refused: %s", c->peer, changed);
		c->close_after_write = true;
		c->auth_failed = true;
		c->bad_mech = false;
		return raw ? -EACCES
			   : answer_auth(req, PROTO_ERR_SASL_AUTHENTICATION_FAILED, changed, NULL,
					 0);
	}
	rc = sasl_server_step(c->sasl, in, in_len, &out, &out_len);

	/* A re-authentication keeps its principal (Kafka's ReauthInfo,
	 * ensurePrincipalUnchanged, once the exchange is complete): another
	 * user, even with the right password, is refused and the connection
	 * closes. */
	if (rc == 1 && c->reauthenticating && strcmp(sasl_server_user(c->sasl), c->user)) {
		snprintf(changed, sizeof(changed),
			 "Cannot change principals during re-authentication from User.%s: User.%s",
			 c->user, sasl_server_user(c->sasl));
		STAT_ADD(srv, auth_failures, 1);
		mq_log_limited(MQ_WARN, "net: %s: SaslAuthenticate refused: %s", c->peer, changed);
		c->close_after_write = true;
		c->auth_failed = true;
		rc = raw ? -EACCES
			 : answer_auth(req, PROTO_ERR_SASL_AUTHENTICATION_FAILED, changed, NULL, 0);
		conn_sasl_end(c);
		return rc;
	}
	/* out and msg point into c->sasl: the answer is built before the
	 * exchange's end frees it. */
	if (rc < 0) {
		STAT_ADD(srv, auth_failures, 1);
		mq_log_limited(MQ_WARN, "net: %s: SaslAuthenticate refused: %s (%s)", c->peer,
			       sasl_server_reason(c->sasl), strerror(-rc));
		c->close_after_write = true;
		c->auth_failed = true;
		msg = sasl_server_client_message(c->sasl);
		if (!msg) {
			snprintf(changed, sizeof(changed),
				 "Authentication failed during %sauthentication due to invalid "
				 "credentials with SASL mechanism %s",
				 c->reauthenticating ? "re-" : "", sasl_mech_name(c->mech));
			msg = changed;
		}
		rc = raw ? -EACCES /* the v0 exchange has no error message */
			 : answer_auth(req, sasl_kafka_error(rc), msg, NULL, 0);
		conn_sasl_end(c);
		return rc;
	}
	if (rc == 1) {
		/* The session lives connections.max.reauth.ms from here, or
		 * until the delegation token it authenticated expires,
		 * whichever is first (Kafka's
		 * calcCompletionTimesAndReturnSessionLifetimeMs: a token's
		 * session ends at its expiry even without the setting), told to
		 * the client in session_lifetime_ms (v1+); a v0 client is not
		 * told and is cut at the end all the same, as Kafka does. */
		lifetime = net_config_reauth_ms(&srv->cfg, c->mech);
		if (lifetime < 0)
			lifetime = 0;
		if (sasl_server_token_expiry(c->sasl) >= 0) {
			int64_t left = sasl_server_token_expiry(c->sasl) - now_real_ms();

			/* At least 1: 0 is "no end" here, where Kafka's 0
			 * ends the session at once. */
			left = left < 1 ? 1 : left;
			lifetime = lifetime > 0 && lifetime < left ? lifetime : left;
		}
		c->session_end = lifetime ? now_mono_ms() + lifetime : 0;
		snprintf(c->user, sizeof(c->user), "%s", sasl_server_user(c->sasl));
		c->token = sasl_server_token(c->sasl);
		c->auth = AUTH_DONE;
		if (c->reauthenticating)
			STAT_ADD(srv, reauths, 1);
		mq_log(MQ_INFO, "net: %s: %sauthenticated as %s (%s%s)", c->peer,
		       c->reauthenticating ? "re-" : "", c->user, sasl_mech_name(c->mech),
		       c->token ? ", delegation token" : "");
		c->reauthenticating = false;
	}
	if (!raw) {
		rc = answer_auth_lifetime(req, PROTO_ERR_NONE, NULL, out, out_len, lifetime);
	} else {
		pos = kbuf_w_frame_begin(&req->out.w);
		kbuf_write_raw(&req->out.w, out, out_len);
		rc = proto_out_finish(&req->out, pos);
	}
	if (c->auth == AUTH_DONE)
		conn_sasl_end(c);
	return rc;
}

/* Whether a SaslHandshake on authenticated c starts a re-authentication
 * (Kafka's KafkaChannel.maybeBeginServerReauthentication): only when
 * sessions expire, and at most one a second (a client cannot make the
 * broker run exchanges back to back). Otherwise the handshake is answered
 * ILLEGAL_SASL_STATE as on any authenticated connection. Taken before the
 * session's end is checked, so a late re-authentication still may pass. */
static bool conn_reauth_begins(struct net_conn *c)
{
	int64_t now = now_mono_ms();

	if (!c->session_end || (c->reauth_began && now - c->reauth_began < 1000))
		return false;
	c->reauth_began = now;
	c->reauthenticating = true;
	c->auth = AUTH_HANDSHAKE; /* the handshake only, then its tokens */
	return true;
}

/* A request on a SASL listener before authentication: 0 answered (the
 * answer may end the connection: close_after_write), -errno close now. */
static int conn_pre_auth(struct net_conn *c, struct net_req *req)
{
	struct net_server *srv = c->loop->srv;
	const struct proto_req *m = &req->msg;
	int16_t key = m->hdr.api_key;
	int rc;

	if (key == PROTO_API_API_VERSIONS && c->auth == AUTH_START) {
		/* Refused as invalid, the client may ask again (Kafka's
		 * SaslServerAuthenticator keeps its state). */
		if (proto_api_versions_req_valid(m->hdr.api_version, &m->u.api_versions))
			c->auth = AUTH_HANDSHAKE;
		return answer_api_versions(req, false);
	}
	if (key == PROTO_API_SASL_HANDSHAKE &&
	    (c->auth == AUTH_START || c->auth == AUTH_HANDSHAKE)) {
		struct kstr asked = m->u.sasl_handshake.mechanism;
		enum sasl_mech mech = SASL_SHA_256;

		/* The names are Kafka's, exact (its enabledMechanisms.contains). */
		if (asked.len <= 0 || sasl_mech_of(asked.ptr, (size_t)asked.len, &mech) < 0 ||
		    !srv->cfg.sasl_scram[mech]) {
			STAT_ADD(srv, auth_failures, 1);
			mq_log_limited(MQ_WARN,
				       "net: %s: SaslHandshake refused: mechanism "
				       "'%.*s' not enabled",
				       c->peer,
				       (int)(m->u.sasl_handshake.mechanism.len > 0
						     ? m->u.sasl_handshake.mechanism.len
						     : 0),
				       m->u.sasl_handshake.mechanism.ptr
					       ? m->u.sasl_handshake.mechanism.ptr
					       : "");
			c->close_after_write = true;
			/* A re-authentication's handshake is Kafka's
			 * Processor's to fail: closed at once. */
			c->auth_failed = !c->reauthenticating;
			return answer_handshake(c, req, PROTO_ERR_UNSUPPORTED_SASL_MECHANISM);
		}
		c->auth = m->hdr.api_version >= 1 ? AUTH_SCRAM : AUTH_SCRAM_RAW;
		if (c->reauthenticating && mech != c->mech) {
			/* The session's mechanism stays (Kafka's
			 * saslMechanismUnchanged): refused at the token. */
			c->bad_mech = true;
			c->asked_mech = mech;
			return answer_handshake(c, req, PROTO_ERR_NONE);
		}
		rc = sasl_server_new(mech, srv->lookup, srv->lookup_arg, &c->sasl);
		if (rc)
			return rc;
		c->mech = mech;
		if (srv->tokens)
			sasl_server_set_tokens(c->sasl, srv->tokens, srv->tokens_arg);
		STAT_ADD(srv, sasl_exchanges, 1);
		return answer_handshake(c, req, PROTO_ERR_NONE);
	}
	if (key == PROTO_API_SASL_AUTHENTICATE && c->auth == AUTH_SCRAM) {
		struct kstr b = m->u.sasl_auth.auth_bytes;

		return conn_sasl_step(c, req, (const uint8_t *)b.ptr, b.len > 0 ? (size_t)b.len : 0,
				      false);
	}
	STAT_ADD(srv, auth_failures, 1);
	/* Out of turn is Kafka's IllegalSaslStateException, a failed
	 * authentication, but for a second ApiVersions where the handshake
	 * is expected: an IllegalStateException, closed at once. */
	c->auth_failed = !(c->auth == AUTH_HANDSHAKE && key == PROTO_API_API_VERSIONS);
	mq_log_limited(MQ_WARN,
		       "net: %s: %s request refused on %s before authentication "
		       "(%s); closing the connection",
		       c->peer, api_name(key), srv->cfg.listeners[c->listener].name,
		       c->auth == AUTH_SCRAM       ? "expected SaslAuthenticate"
		       : c->auth == AUTH_HANDSHAKE ? "expected SaslHandshake"
						   : "expected ApiVersions or SaslHandshake");
	/* Kafka's SaslServerAuthenticator parses a request met while it
	 * expects SaslAuthenticate (handleSaslToken) and answers it
	 * ILLEGAL_SASL_STATE before closing; one met while it expects the
	 * handshake (handleKafkaRequest) is refused unparsed: closed with
	 * no answer. Of the APIs listed here those a client may send there
	 * are its own ApiVersions and SaslHandshake; the others have no
	 * error-only encoder and close unanswered. */
	if (c->auth == AUTH_SCRAM && key == PROTO_API_API_VERSIONS) {
		/* A version we do not know is answered in v0, as Kafka's
		 * RequestContext does. */
		int16_t v = proto_api_supported(key, m->hdr.api_version) ? m->hdr.api_version : 0;
		size_t pos = proto_resp_begin(&req->out.w, key, v, m->hdr.correlation_id);

		c->close_after_write = true;
		proto_api_versions_resp_encode_served(&req->out.w, v, PROTO_ERR_ILLEGAL_SASL_STATE,
						      0, api_none, NULL);
		return proto_out_finish(&req->out, pos);
	}
	if (c->auth == AUTH_SCRAM && key == PROTO_API_SASL_HANDSHAKE) {
		c->close_after_write = true;
		return answer_handshake(c, req, PROTO_ERR_ILLEGAL_SASL_STATE);
	}
	return -EACCES;
}

/* Hands req to a worker, or to the backlog when the queue is full (or
 * others wait there before it: requests leave the backlog in order). */
static void conn_dispatch(struct net_conn *c, struct net_req *req, bool from_backlog)
{
	struct net_loop *loop = c->loop;
	struct net_server *srv = loop->srv;
	int16_t key = req->msg.hdr.api_key;
	bool queued = false;

	if (!from_backlog) {
		req->out_ms = now_mono_ms();
		int64_t due = late_due(srv, req);

		if (due < loop->next_late_check)
			loop->next_late_check = due;
	}
	/* Picked to run here (a follower's Fetch): no hand-off to a worker
	 * and back. Not while requests wait in the backlog: they go first. */
	if (!from_backlog && !loop->backlog_head && srv->handlers[key].pick &&
	    srv->handlers[key].pick(srv->handlers[key].arg, req) &&
	    !__atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE)) {
		list_del(&loop->lru, c);
		list_add_tail(&loop->busy, c);
		c->req_out = true;
		loop->outstanding++;
		__atomic_store_n(&req->stage, STAGE_RUNNING, __ATOMIC_RELAXED);
		int rc = srv->handlers[key].fn(srv->handlers[key].arg, req);
		if (rc != NET_PARKED) {
			done_list(req, rc);
			loop->self_done = true; /* taken before the loop sleeps */
		}
		return;
	}
	pthread_mutex_lock(&srv->qlock);
	if (__atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE)) {
		/* The workers may be gone: nothing new goes to the queue. */
		pthread_mutex_unlock(&srv->qlock);
		c->in_backlog = false;
		conn_close(c, 0, NULL);
		return;
	}
	if ((from_backlog || !loop->backlog_head) && srv->q_len < srv->cfg.queued_max_requests) {
		__atomic_store_n(&req->stage, STAGE_QUEUED, __ATOMIC_RELAXED);
		req->next = NULL;
		if (srv->q_tail)
			srv->q_tail->next = req;
		else
			srv->q_head = req;
		srv->q_tail = req;
		srv->q_len++;
		queued = true;
		pthread_cond_signal(&srv->qcond);
	}
	pthread_mutex_unlock(&srv->qlock);
	if (queued) {
		list_del(&loop->lru, c);
		list_add_tail(&loop->busy, c);
		c->req_out = true;
		loop->outstanding++;
		return;
	}
	req->next = NULL;
	__atomic_store_n(&req->stage, STAGE_BACKLOG, __ATOMIC_RELAXED);
	c->in_backlog = true;
	if (loop->backlog_tail)
		loop->backlog_tail->next = req;
	else
		loop->backlog_head = req;
	loop->backlog_tail = req;
}

/* A whole frame arrived on c: decide, answer, refuse or dispatch. */
static void conn_frame(struct net_conn *c)
{
	struct net_server *srv = c->loop->srv;
	struct net_req *req = calloc(1, sizeof(*req));
	const struct proto_req_hdr *h;
	int rc;

	if (!req) {
		conn_close(c, MQ_ERR, "out of memory");
		return;
	}
	req->conn = c;
	req->frame = c->frame;
	req->frame_len = c->frame_len;
	c->frame = NULL;
	c->frame_len = c->frame_got = 0;
	c->req = req;
	c->state = BUSY;
	/* Only the client's end (invariant 2): it cancels the request. */
	conn_set_events(c, EPOLLRDHUP);
	proto_out_init(&req->out, (size_t)srv->cfg.socket_response_max_bytes);
	STAT_ADD(srv, requests, 1);
	if (c->auth == AUTH_SCRAM_RAW) {
		rc = conn_sasl_step(c, req, req->frame, req->frame_len, true);
		goto answered;
	}
	rc = proto_req_decode(req->frame, req->frame_len, &req->msg);
	h = &req->msg.hdr;
	if (rc == -EOPNOTSUPP && h->api_key == PROTO_API_API_VERSIONS) {
		/* Mid-exchange, Kafka's authenticator refuses it by its state
		 * whatever the version (conn_pre_auth). */
		rc = c->auth == AUTH_START || c->auth == AUTH_DONE ? answer_api_versions(req, true)
								   : conn_pre_auth(c, req);
		goto answered;
	}
	if (rc == -EOPNOTSUPP) {
		char why[128];

		snprintf(why, sizeof(why), "unsupported request: api_key %d (%s) version %d",
			 h->api_key, api_name(h->api_key), h->api_version);
		conn_close(c, MQ_WARN, why);
		return;
	}
	if (rc && req->frame_len < 8) {
		char why[128];

		/* No api_key, api_version and correlation_id to name: the
		 * zeros left in h would read as a Produce v0. */
		snprintf(why, sizeof(why),
			 "malformed request: a frame of %zu bytes, shorter than a request header",
			 req->frame_len);
		conn_close(c, MQ_WARN, why);
		return;
	}
	if (rc) {
		char why[160];

		snprintf(why, sizeof(why), "%s: %s version %d",
			 rc == -E2BIG ? "request over mqfs's bounds (more than 10000 topics, or "
					"200000 partitions in all, or another array over its cap)"
				      : "malformed request",
			 api_name(h->api_key), h->api_version);
		conn_close(c, MQ_WARN, why);
		return;
	}
	if (c->auth != AUTH_DONE) {
		rc = conn_pre_auth(c, req);
		goto answered;
	}
	if (h->api_key == PROTO_API_SASL_HANDSHAKE && conn_reauth_begins(c)) {
		rc = conn_pre_auth(c, req);
		goto answered;
	}
	if (c->session_end && now_mono_ms() > c->session_end) {
		char why[SASL_MAX_USER + 160];

		/* Kafka's Processor: "Disconnecting expired channel"; the
		 * client did not re-authenticate in time (or cannot: a client
		 * without KIP-368 reconnects). */
		STAT_ADD(srv, closed_expired, 1);
		snprintf(why, sizeof(why),
			 "%s request after the end of %s's SASL session "
			 "(connections.max.reauth.ms %" PRId64 ")",
			 api_name(h->api_key), c->user, net_config_reauth_ms(&srv->cfg, c->mech));
		conn_close(c, MQ_INFO, why);
		return;
	}
	switch (h->api_key) {
	case PROTO_API_API_VERSIONS: rc = answer_api_versions(req, false); goto answered;
	case PROTO_API_SASL_HANDSHAKE:
		rc = answer_handshake(c, req, PROTO_ERR_ILLEGAL_SASL_STATE);
		goto answered;
	case PROTO_API_SASL_AUTHENTICATE:
		rc = answer_auth(req, PROTO_ERR_ILLEGAL_SASL_STATE,
				 "SaslAuthenticate request received after successful "
				 "authentication",
				 NULL, 0);
		goto answered;
	}
	if (h->api_key < 0 || h->api_key >= N_API_KEYS || !srv->handlers[h->api_key].fn) {
		char why[96];

		snprintf(why, sizeof(why), "no handler for %s", api_name(h->api_key));
		conn_close(c, MQ_WARN, why);
		return;
	}
	conn_dispatch(c, req, false);
	return;
answered:
	if (c->auth_failed && conn_hold_failed(c, rc))
		return;
	if (rc) {
		conn_close(c, 0, NULL);
		return;
	}
	conn_reply(c);
}

/* Reads what the socket has, one frame at a time (invariant 1): a frame
 * answered at once lets the next be read, up to FRAMES_PER_READ in one
 * go so that a pipelining client cannot hold the loop; level-triggered
 * epoll brings the rest. */
#define FRAMES_PER_READ 16

static void conn_read(struct net_conn *c)
{
	struct net_server *srv = c->loop->srv;
	int frames = 0;
	ssize_t n;
	size_t len;
	int rc;

	while (!c->closed && !c->muted_until && (c->state == READ_SIZE || c->state == READ_FRAME) &&
	       frames < FRAMES_PER_READ) {
		if (c->state == READ_SIZE)
			n = recv(c->fd, c->size_buf + c->size_got, 4 - c->size_got, MSG_DONTWAIT);
		else
			n = recv(c->fd, c->frame + c->frame_got, c->frame_len - c->frame_got,
				 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			bool mid = c->size_got || c->state == READ_FRAME;

			conn_close(c, mid ? MQ_INFO : MQ_DEBUG,
				   n < 0 ? "receive failed"
				   : mid ? "peer closed in the middle of a frame"
					 : "peer closed");
			return;
		}
		conn_touch(c);
		if (c->state == READ_FRAME) {
			c->frame_got += (size_t)n;
			if (c->frame_got == c->frame_len) {
				conn_frame(c);
				frames++;
			}
			continue;
		}
		c->size_got += (size_t)n;
		if (c->size_got < 4)
			continue;
		c->size_got = 0;
		/* Before authentication, the smaller bound (net.h, "Limits"). */
		bool pre_auth = c->auth != AUTH_DONE &&
				srv->cfg.sasl_max_receive_bytes < srv->cfg.socket_request_max_bytes;
		rc = proto_frame_peek(c->size_buf, 4,
				      (size_t)(pre_auth ? srv->cfg.sasl_max_receive_bytes
							: srv->cfg.socket_request_max_bytes),
				      &len);
		if (rc) {
			char why[128];
			int32_t sz = (int32_t)((uint32_t)c->size_buf[0] << 24 |
					       (uint32_t)c->size_buf[1] << 16 |
					       (uint32_t)c->size_buf[2] << 8 | c->size_buf[3]);

			snprintf(why, sizeof(why), "frame size %d %s", sz,
				 rc != -EMSGSIZE ? "is negative"
				 : pre_auth      ? "above sasl.server.max.receive.size before "
						   "authentication"
						 : "above socket.request.max.bytes");
			/* Before authentication, Kafka's SaslAuthenticationException
			 * ("invalid receive size"): closed after the delay. */
			if (pre_auth && rc == -EMSGSIZE && conn_hold_failed(c, -EMSGSIZE)) {
				mq_log_limited(MQ_WARN, "net: %s: %s; closing the connection",
					       c->peer, why);
				return;
			}
			conn_close(c, MQ_WARN, why);
			return;
		}
		c->frame_len = len;
		if (!mem_reserve(srv, len)) {
			c->state = WAIT_MEM;
			conn_set_events(c, 0);
			c->waiting_mem = true;
			c->wait_next = NULL;
			if (c->loop->memwait_tail)
				c->loop->memwait_tail->wait_next = c;
			else
				c->loop->memwait_head = c;
			c->loop->memwait_tail = c;
			__atomic_add_fetch(&srv->memwaiters, 1, __ATOMIC_RELAXED);
			return;
		}
		c->frame = malloc(len ? len : 1);
		if (!c->frame) {
			conn_close(c, MQ_ERR, "out of memory for a request frame");
			return;
		}
		c->frame_got = 0;
		c->state = READ_FRAME;
		if (!len) {
			conn_frame(c);
			frames++;
		}
	}
}

/* ---- the loop's own work: hand-overs, completions, waits ---- */

static void loop_take_incoming(struct net_loop *loop)
{
	struct net_incoming *in;

	pthread_mutex_lock(&loop->lock);
	in = loop->incoming;
	loop->incoming = NULL;
	pthread_mutex_unlock(&loop->lock);
	while (in) {
		struct net_incoming *next = in->next;

		if (__atomic_load_n(&loop->srv->stopping, __ATOMIC_ACQUIRE)) {
			close(in->fd);
			ip_give(loop->srv, in->ip);
			conn_count_drop(loop->srv, true);
		} else {
			conn_add(loop, in->fd, in->listener, in->ip, in->peer);
		}
		free(in);
		in = next;
	}
}

static void loop_take_done(struct net_loop *loop)
{
	struct net_req *req;

	pthread_mutex_lock(&loop->lock);
	req = loop->done_head;
	loop->done_head = loop->done_tail = NULL;
	pthread_mutex_unlock(&loop->lock);
	while (req) {
		struct net_req *next = req->next;
		struct net_conn *c = req->conn;

		loop->outstanding--;
		c->req_out = false;
		if (c->closed) {
			c->req = NULL;
			req_free(req, -ECONNRESET);
			c->grave_next = loop->grave;
			loop->grave = c;
		} else {
			list_del(&loop->busy, c);
			list_add_tail(&loop->lru, c);
			c->last_active = now_mono_ms();
			if (req->rc < 0) {
				char why[128];

				/* Its client went first (a half-close: the
				 * produce purgatory lets go of such a request
				 * unanswered): routine, as a peer leaving. */
				snprintf(why, sizeof(why), "the %s handler failed: %s",
					 api_name(req->msg.hdr.api_key), strerror(-req->rc));
				/* Or the broker stopping closed it
				 * (-ESHUTDOWN: the produce purgatory's stop
				 * says how many, once). */
				conn_close(c,
					   net_req_cancelled(req) || req->rc == -ESHUTDOWN
						   ? MQ_DEBUG
						   : MQ_WARN,
					   why);
			} else {
				conn_reply(c);
				if (!c->closed && c->state == READ_SIZE)
					conn_read(c);
			}
		}
		req = next;
	}
}

static void loop_retry_backlog(struct net_loop *loop)
{
	while (loop->backlog_head) {
		struct net_req *req = loop->backlog_head;
		struct net_server *srv = loop->srv;
		bool room;

		pthread_mutex_lock(&srv->qlock);
		room = srv->q_len < srv->cfg.queued_max_requests;
		pthread_mutex_unlock(&srv->qlock);
		if (!room)
			return;
		loop->backlog_head = req->next;
		if (!loop->backlog_head)
			loop->backlog_tail = NULL;
		req->conn->in_backlog = false;
		conn_dispatch(req->conn, req, true);
	}
}

static void loop_retry_memwait(struct net_loop *loop)
{
	struct net_server *srv = loop->srv;

	while (loop->memwait_head) {
		struct net_conn *c = loop->memwait_head;

		if (!mem_reserve(srv, c->frame_len))
			return;
		memwait_del(c);
		c->frame = malloc(c->frame_len ? c->frame_len : 1);
		if (!c->frame) {
			mem_release(srv, c->frame_len);
			c->frame_len = 0;
			conn_close(c, MQ_ERR, "out of memory for a request frame");
			continue;
		}
		c->frame_got = 0;
		c->state = READ_FRAME;
		conn_set_events(c, EPOLLIN);
		if (!c->frame_len)
			conn_frame(c);
	}
}

/* ---- accepting (loop 0) ---- */

static void addr_key(const struct sockaddr_storage *ss, uint8_t ip[16], char *peer, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";

	memset(ip, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;

		memcpy(ip + 12, &a->sin_addr, 4);
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(peer, cap, "%s:%u", host, ntohs(a->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;

		memcpy(ip, &a->sin6_addr, 16);
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(peer, cap, "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		snprintf(peer, cap, "?");
	}
}

/* Out of descriptors (or memory), a connection stays in the backlog and
 * its listener stays readable: accepting again at once would spin. The
 * listener leaves the loop's epoll for ACCEPT_PAUSE_MS (loop_resume_accepts
 * puts it back; the loop's timeout wakes it then). True when paused. */
#define ACCEPT_PAUSE_MS 100 /* the log line says so too */
static bool accept_pause(struct net_loop *loop, struct net_listener *l, int err)
{
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return false;
	struct epoll_event ev = { .events = 0, .data.ptr = l };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, l->fd, &ev) < 0)
		return false;
	l->paused_until = now_mono_ms() + ACCEPT_PAUSE_MS;
	STAT_ADD(loop->srv, accept_pauses, 1);
	return true;
}

/* Whether a connection waits in l's backlog now. */
static bool backlog_waiting(const struct net_listener *l)
{
	struct pollfd p = { .fd = l->fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* Loop 0, before an accept: at max.connections the listener waits for a
 * slot as Kafka's Acceptor does (ConnectionQuotas.waitForConnectionSlot),
 * so new connections stay in the kernel's backlog, unanswered, until one
 * closes or the limit is raised, instead of being accepted and closed.
 * The listener leaves the loop's epoll meanwhile (level-triggered, it
 * would spin). It is full, and its blocked time runs, only while a
 * connection waits, as Kafka's acceptor blocks only with one in hand:
 * at the limit with none waiting it stays in the epoll, which tells the
 * next one. True when it accepts no more now. */
static bool accept_hold(struct net_loop *loop, struct net_listener *l)
{
	struct net_server *srv = loop->srv;
	struct epoll_event ev = { .events = 0, .data.ptr = l };

	if (slot_free(srv, l->idx))
		return false;
	/* The flag before the second look: a connection closing between
	 * them either is seen here or sees the flag and wakes loop 0. */
	__atomic_store_n(&srv->accept_full, 1, __ATOMIC_SEQ_CST);
	if (slot_free(srv, l->idx))
		return false;
	if (!backlog_waiting(l))
		return true;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, l->fd, &ev) < 0)
		mq_log_limited(MQ_ERR, "net: %s: cannot stop accepting: %s",
			       srv->cfg.listeners[l->idx].name, strerror(errno));
	if (!l->full) {
		pthread_mutex_lock(&srv->blocklock);
		l->full_since_ns = now_mono_ns();
		pthread_mutex_unlock(&srv->blocklock);
	}
	l->full = true;
	mq_log_limited(MQ_WARN,
		       "net: %s: max.connections (%d) reached: new connections wait "
		       "in the backlog until one closes",
		       srv->cfg.listeners[l->idx].name,
		       __atomic_load_n(&srv->cfg.max_connections, __ATOMIC_RELAXED));
	return true;
}

/* Loop 0: a listener paused (out of descriptors) past its pause, or full
 * with a slot free again, accepts again (in the epoll only when neither). */
static void loop_resume_accepts(struct net_loop *loop)
{
	struct net_server *srv = loop->srv;
	int64_t now = now_mono_ms();
	bool full = false;

	for (int i = 0; i < srv->cfg.n_listeners; i++) {
		struct net_listener *l = &srv->lst[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
		int64_t paused_until = l->paused_until;
		bool was_full = l->full;

		if (l->fd < 0 || (!paused_until && !was_full))
			continue;
		if (paused_until && now >= paused_until)
			l->paused_until = 0;
		if (was_full && slot_free(srv, l->idx))
			l->full = false;
		if (!l->paused_until && !l->full) {
			if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, l->fd, &ev) < 0) {
				/* Tried again at the loop's next turn. */
				l->paused_until = paused_until;
				l->full = was_full;
			} else if (was_full) {
				pthread_mutex_lock(&srv->blocklock);
				l->blocked_ns += now_mono_ns() - l->full_since_ns;
				l->full_since_ns = 0;
				pthread_mutex_unlock(&srv->blocklock);
				mq_log_limited(
					MQ_INFO,
					"net: %s: below max.connections (%d) again: accepting",
					srv->cfg.listeners[i].name,
					__atomic_load_n(&srv->cfg.max_connections,
							__ATOMIC_RELAXED));
			}
		}
		full |= l->full;
	}
	if (!full)
		__atomic_store_n(&srv->accept_full, 0, __ATOMIC_SEQ_CST);
}

/* Descriptors a client's connection may not take under a limit lim: half
 * the reserve that topic creation keeps (fdroom.h), so connections alone
 * cannot starve the segment files, checkpoints, ZooKeeper's session, the
 * connections this broker opens to others and the mount's reads.
 *
 * The kernel hands out the lowest free descriptor, so an accepted
 * descriptor N means 0..N-1 are all open: N counts open descriptors at
 * the cost of a getrlimit, and never overstates them (a connection that
 * fills a hole a closed one left takes only what was freed). */
static int64_t conn_fd_keep(int64_t lim)
{
	return lim > 0 && lim != INT64_MAX ? fd_room_reserve(lim) / 2 : 0;
}

static void loop_accept(struct net_loop *loop, struct net_listener *l)
{
	struct net_server *srv = loop->srv;

	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		uint8_t ip[16];
		char peer[64];
		struct net_loop *to;
		int64_t lim;
		int max_ip;
		int fd;

		if (accept_hold(loop, l))
			return;
		fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			int e = errno;

			if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED)
				return;
			/* Paused before the log line, which the rate limit may
			 * skip with its arguments. */
			STAT_ADD(srv, accept_failures, 1);
			bool paused = accept_pause(loop, l, e);
			mq_log_limited(MQ_ERR, "net: accept on %s: %s%s",
				       srv->cfg.listeners[l->idx].name, strerror(e),
				       paused ? "; accepts paused for 100 ms" : "");
			return;
		}
		addr_key(&ss, ip, peer, sizeof(peer));
		lim = fd_limit();
		if (conn_fd_keep(lim) && fd >= lim - conn_fd_keep(lim)) {
			STAT_ADD(srv, refused, 1);
			close(fd);
			mq_log_limited(MQ_WARN,
				       "net: %s: refused: descriptor %d is within the last %lld "
				       "of the open-files limit, kept for the logs, ZooKeeper, "
				       "other brokers and the mount",
				       peer, fd, (long long)conn_fd_keep(lim));
			continue;
		}
		/* The limit may change at any time (net_server_set_limits):
		 * each accept reads it once. Only this thread adds
		 * connections, so accept_hold's slot is still free; a
		 * connection past max.connections.per.ip is accepted and
		 * closed, as Kafka's TooManyConnectionsException closes it. */
		max_ip = __atomic_load_n(&srv->cfg.max_connections_per_ip, __ATOMIC_RELAXED);
		/* The protected listener's may pass the limit: the other
		 * listeners' loops close as many (loop_close_excess). */
		if (STAT_ADD(srv, connections, 1) >
		    __atomic_load_n(&srv->cfg.max_connections, __ATOMIC_RELAXED))
			loops_wake_all(srv);
		if (ip_take(srv, ip, max_ip)) {
			conn_count_drop(srv, true);
			STAT_ADD(srv, refused, 1);
			close(fd);
			mq_log_limited(MQ_WARN,
				       "net: %s: refused: max.connections.per.ip (%d) "
				       "reached",
				       peer, max_ip);
			continue;
		}
		STAT_ADD(srv, accepted, 1);
		to = &srv->loops[srv->next_loop++ % (unsigned)srv->n_loops];
		if (to == loop) {
			conn_add(loop, fd, l->idx, ip, peer);
			continue;
		}
		struct net_incoming *in = calloc(1, sizeof(*in));

		if (!in) {
			close(fd);
			ip_give(srv, ip);
			conn_count_drop(srv, true);
			continue;
		}
		in->fd = fd;
		in->listener = l->idx;
		memcpy(in->ip, ip, 16);
		snprintf(in->peer, sizeof(in->peer), "%s", peer);
		pthread_mutex_lock(&to->lock);
		in->next = to->incoming;
		to->incoming = in;
		pthread_mutex_unlock(&to->lock);
		loop_wake(to);
	}
}

/* ---- the loop ---- */

static int loop_timeout(struct net_loop *loop)
{
	struct net_server *srv = loop->srv;
	int64_t idle = srv->cfg.connections_max_idle_ms, now = now_mono_ms();
	int64_t left = loop->lru.head ? loop->lru.head->last_active + idle - now : INT64_MAX;

	if (loop->n_muted && loop->next_unmute - now < left)
		left = loop->next_unmute - now;
	if (loop->next_late_check != INT64_MAX && loop->next_late_check - now < left)
		left = loop->next_late_check - now;
	if (loop->idx == 0) /* the listeners' loop: a paused one's resumption */
		for (int i = 0; i < srv->cfg.n_listeners; i++)
			if (srv->lst[i].paused_until && srv->lst[i].paused_until - now < left)
				left = srv->lst[i].paused_until - now;
	if (left == INT64_MAX)
		return -1;
	if (left < 0)
		return 0;
	return left > INT_MAX - 1 ? INT_MAX : (int)left + 1;
}

static const char *stage_name(struct net_server *srv, struct net_req *req)
{
	switch (__atomic_load_n(&req->stage, __ATOMIC_ACQUIRE)) {
	case STAGE_BACKLOG: return "waiting in the backlog for room in the work queue";
	case STAGE_QUEUED: return "waiting in the work queue for a worker";
	case STAGE_DONE: return "answered, its response not yet taken by the network thread";
	default: break;
	}
	for (int i = 0; i < srv->cfg.num_io_threads; i++)
		if (__atomic_load_n(&srv->running[i], __ATOMIC_ACQUIRE) == req)
			return "its handler still running on a worker";
	return "parked by its handler, not completed";
}

/* Logs req, late (late_due), once: its first partition and where it is. */
static void late_log(struct net_loop *loop, struct net_req *req, int64_t now)
{
	int16_t key = req->msg.hdr.api_key;
	const struct proto_fetch_req *m = &req->msg.u.fetch;
	const struct proto_ofle_req *o = &req->msg.u.ofle;
	struct kstr topic = KSTR_NULL;
	int32_t part = -1, replica;
	char what[384], first[320] = "none named";

	if (key == PROTO_API_FETCH) {
		replica = m->replica_id;
		if (m->n_topics > 0 && m->topics[0].n_partitions > 0) {
			topic = m->topics[0].topic;
			part = m->topics[0].partitions[0].partition;
		}
		snprintf(
			what, sizeof(what),
			"Fetch (replica %d, correlation id %d, max_wait_ms %d, session %d epoch %d, "
			"%d topics named",
			(int)replica, (int)req->msg.hdr.correlation_id, (int)m->max_wait_ms,
			(int)m->session_id, (int)m->session_epoch, (int)m->n_topics);
	} else {
		replica = o->replica_id;
		if (o->n_topics > 0 && o->topics[0].n_partitions > 0) {
			topic = o->topics[0].topic;
			part = o->topics[0].partitions[0].partition;
		}
		snprintf(what, sizeof(what),
			 "OffsetForLeaderEpoch (replica %d, correlation id %d, %d topics named",
			 (int)replica, (int)req->msg.hdr.correlation_id, (int)o->n_topics);
	}
	req->late_logged = true;
	if (part >= 0)
		snprintf(first, sizeof(first), "first %.*s-%d", topic.len > 0 ? (int)topic.len : 0,
			 topic.ptr ? topic.ptr : "", (int)part);
	mq_log_limited(MQ_WARN, "net: %s: %s, %s) unanswered %lld ms after it arrived: %s",
		       req->conn->peer, what, first, (long long)(now - req->out_ms),
		       stage_name(loop->srv, req));
}

static void late_look(struct net_loop *loop, struct net_req *req, int64_t now)
{
	int64_t due = late_due(loop->srv, req);

	if (due <= now)
		late_log(loop, req, now);
	else if (due < loop->next_late_check)
		loop->next_late_check = due;
}

static void loop_check_late(struct net_loop *loop)
{
	int64_t now = now_mono_ms();

	if (now < loop->next_late_check)
		return;
	/* Those due are logged; the next look is the earliest still to come
	 * (INT64_MAX: none out; a request dispatched later brings it
	 * forward). */
	loop->next_late_check = INT64_MAX;
	for (struct net_conn *c = loop->busy.head; c; c = c->next)
		if (c->req && c->req_out)
			late_look(loop, c->req, now);
	for (struct net_req *req = loop->backlog_head; req; req = req->next)
		late_look(loop, req, now);
}

static void loop_expire(struct net_loop *loop)
{
	int64_t idle = loop->srv->cfg.connections_max_idle_ms, now = now_mono_ms();

	while (loop->lru.head && now - loop->lru.head->last_active >= idle) {
		STAT_ADD(loop->srv, closed_idle, 1);
		conn_close(loop->lru.head, MQ_DEBUG, "idle past connections.max.idle.ms");
	}
}

/* This loop's connection to close for max.connections: the least
 * recently active of a listener other than the protected one, as Kafka's
 * Selector.lowestPriorityChannel (idle ones first); NULL: none. */
static struct net_conn *excess_victim(struct net_loop *loop)
{
	int prot = loop->srv->protected_listener;

	for (struct net_conn *c = loop->lru.head; c; c = c->next)
		if (c->listener != prot)
			return c;
	for (struct net_conn *c = loop->busy.head; c; c = c->next)
		if (c->listener != prot)
			return c;
	return NULL;
}

/* Kafka's Processor.closeExcessConnections: while more connections are
 * open than max.connections (the limit lowered below the count, or the
 * protected listener's taken past it), those of the other listeners
 * close, each loop its own. A loop takes the count down before it
 * closes (uncounted), so loops deciding at once close no more than the
 * excess. */
static void loop_close_excess(struct net_loop *loop)
{
	struct net_server *srv = loop->srv;
	int64_t n = __atomic_load_n(&srv->st.connections, __ATOMIC_SEQ_CST);

	while (n > __atomic_load_n(&srv->cfg.max_connections, __ATOMIC_RELAXED)) {
		struct net_conn *c = excess_victim(loop);

		if (!c)
			return;
		if (!__atomic_compare_exchange_n(&srv->st.connections, &n, n - 1, false,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			continue; /* n is the count now */
		c->uncounted = true;
		STAT_ADD(srv, closed_excess, 1);
		/* Its own rate limit: conn_close's is every close's. */
		mq_log_limited(MQ_WARN,
			       "net: %s: closing the connection: more open than "
			       "max.connections (%d)",
			       c->peer,
			       __atomic_load_n(&srv->cfg.max_connections, __ATOMIC_RELAXED));
		conn_close(c, MQ_DEBUG, "more connections open than max.connections");
		n--;
	}
}

static void loop_bury(struct net_loop *loop)
{
	while (loop->grave) {
		struct net_conn *c = loop->grave;

		loop->grave = c->grave_next;
		free(c);
	}
}

/* On stop: every connection closes; requests out are waited for. */
static void loop_shut(struct net_loop *loop)
{
	struct net_server *srv = loop->srv;

	if (loop->idx == 0)
		for (int i = 0; i < srv->cfg.n_listeners; i++)
			if (srv->lst[i].fd >= 0) {
				epoll_ctl(loop->epfd, EPOLL_CTL_DEL, srv->lst[i].fd, NULL);
				close(srv->lst[i].fd);
				srv->lst[i].fd = -1;
			}
	while (loop->lru.head)
		conn_close(loop->lru.head, 0, NULL);
	while (loop->busy.head)
		conn_close(loop->busy.head, 0, NULL);
	loop->shut = true;
}

static void *loop_main(void *arg)
{
	struct net_loop *loop = arg;
	struct net_server *srv = loop->srv;
	struct epoll_event evs[EVENTS_PER_WAIT];
	sigset_t pipe;

	/* sendfile(2) has no MSG_NOSIGNAL: a peer gone mid-response must
	 * give EPIPE here, not kill the daemon. */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	for (;;) {
		int n = epoll_wait(loop->epfd, evs, EVENTS_PER_WAIT, loop_timeout(loop));
		bool woken = false;

		__atomic_store_n(&loop->cpu, sched_getcpu(), __ATOMIC_RELAXED);

		if (n < 0 && errno != EINTR) {
			mq_log(MQ_ERR, "net: epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			enum obj_kind *k = evs[i].data.ptr;

			if (*k == OBJ_WAKE) {
				uint64_t v;

				if (read(loop->efd, &v, sizeof(v)) < 0) {
					/* EAGAIN: someone else drained it */
				}
				woken = true;
			} else if (*k == OBJ_LISTENER) {
				loop_accept(loop, (struct net_listener *)k);
			} else {
				struct net_conn *c = (struct net_conn *)k;

				if (c->closed)
					continue;
				if (evs[i].events & EPOLLRDHUP && c->events & EPOLLRDHUP) {
					/* Once (level-triggered): a parked request
					 * is answered now, and sent if the client
					 * still reads (a half-close). */
					conn_set_events(c, c->events & ~EPOLLRDHUP);
					if (c->req && c->req_out)
						req_cancel(c->req);
				}
				if (evs[i].events & (EPOLLERR | EPOLLHUP) &&
				    !(evs[i].events & EPOLLIN))
					conn_close(c, MQ_DEBUG, "socket error or hang-up");
				else if (c->state == BUSY && c->req && !c->req_out)
					conn_flush(c);
				if (!c->closed && (c->state == READ_SIZE || c->state == READ_FRAME))
					conn_read(c);
			}
		}
		if (woken) {
			loop_take_incoming(loop);
			loop->self_done = false;
			loop_take_done(loop);
			loop_retry_backlog(loop);
			loop_retry_memwait(loop);
		}
		while (loop->self_done) { /* a reply may read and run the next */
			loop->self_done = false;
			loop_take_done(loop);
		}
		loop_unmute(loop);
		loop_expire(loop);
		loop_check_late(loop);
		loop_close_excess(loop);
		if (loop->idx == 0)
			loop_resume_accepts(loop);
		if (__atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE) && !loop->shut)
			loop_shut(loop);
		loop_bury(loop);
		if (loop->shut && !loop->outstanding)
			break;
	}
	return NULL;
}

/* ---- workers ---- */

static void *worker_main(void *arg)
{
	struct net_server *srv = arg;
	struct net_req **running =
		&srv->running[__atomic_fetch_add(&srv->worker_seq, 1, __ATOMIC_RELAXED)];

	for (;;) {
		struct net_req *req;
		bool was_full;
		int16_t key;
		int rc;

		pthread_mutex_lock(&srv->qlock);
		while (!srv->q_head && !__atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE))
			pthread_cond_wait(&srv->qcond, &srv->qlock);
		req = srv->q_head;
		if (!req) {
			pthread_mutex_unlock(&srv->qlock);
			return NULL;
		}
		srv->q_head = req->next;
		if (!srv->q_head)
			srv->q_tail = NULL;
		was_full = srv->q_len == srv->cfg.queued_max_requests;
		srv->q_len--;
		pthread_mutex_unlock(&srv->qlock);
		if (was_full)
			for (int i = 0; i < srv->n_loops; i++)
				loop_wake(&srv->loops[i]);
		key = req->msg.hdr.api_key;
		__atomic_store_n(&req->stage, STAGE_RUNNING, __ATOMIC_RELAXED);
		__atomic_store_n(running, req, __ATOMIC_RELEASE);
		rc = srv->handlers[key].fn(srv->handlers[key].arg, req);
		/* Before the completion: once listed, req may be freed and
		 * its address reused. */
		__atomic_store_n(running, NULL, __ATOMIC_RELEASE);
		if (rc != NET_PARKED)
			net_req_complete(req, rc);
	}
}

/* ---- the server ---- */

static bool cfg_valid(const struct net_config *cfg)
{
	return cfg->n_listeners >= 1 && cfg->n_listeners <= NET_MAX_LISTENERS &&
	       cfg->n_advertised >= 0 && cfg->n_advertised <= NET_MAX_LISTENERS &&
	       cfg->num_network_threads >= 1 && cfg->num_network_threads <= NET_MAX_THREADS &&
	       cfg->num_io_threads >= 1 && cfg->num_io_threads <= NET_MAX_THREADS &&
	       cfg->socket_request_max_bytes >= 1 && cfg->socket_request_max_bytes <= INT32_MAX &&
	       cfg->sasl_max_receive_bytes >= 1 && cfg->sasl_max_receive_bytes <= INT32_MAX &&
	       cfg->socket_response_max_bytes >= 1024 && cfg->max_connections >= 0 &&
	       cfg->max_connections_per_ip >= 0 && cfg->connections_max_idle_ms >= 1 &&
	       cfg->failed_auth_delay_ms >= 0 && cfg->failed_auth_delay_ms <= INT32_MAX &&
	       cfg->queued_max_requests >= 1 &&
	       (cfg->queued_max_request_bytes == -1 || cfg->queued_max_request_bytes >= 1);
}

int net_server_new(const struct net_config *cfg, sasl_lookup_fn lookup, void *lookup_arg,
		   struct net_server **out)
{
	struct net_server *srv;

	if (!cfg_valid(cfg))
		return -EINVAL;
	for (int i = 0; i < cfg->n_listeners; i++)
		if (cfg->listeners[i].security == NET_SASL_PLAINTEXT &&
		    (!lookup || (!cfg->sasl_scram[SASL_SHA_256] && !cfg->sasl_scram[SASL_SHA_512])))
			return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->cfg = *cfg;
	srv->lookup = lookup;
	srv->lookup_arg = lookup_arg;
	srv->io = &io_posix;
	srv->protected_listener = -1;
	srv->fetch_late_ms = NET_FETCH_LATE_MS;
	for (int i = 0; i < NET_MAX_LISTENERS; i++)
		srv->lst[i].fd = -1;
	pthread_mutex_init(&srv->qlock, NULL);
	pthread_cond_init(&srv->qcond, NULL);
	pthread_mutex_init(&srv->iplock, NULL);
	pthread_mutex_init(&srv->blocklock, NULL);
	*out = srv;
	return 0;
}

int net_server_handle(struct net_server *srv, int16_t api_key, net_handler_fn fn, void *arg)
{
	if (srv->started || !fn || api_key < 0 || api_key >= N_API_KEYS ||
	    !proto_api_find(api_key) || api_key == PROTO_API_API_VERSIONS ||
	    api_key == PROTO_API_SASL_HANDSHAKE || api_key == PROTO_API_SASL_AUTHENTICATE)
		return -EINVAL;
	srv->handlers[api_key].fn = fn;
	srv->handlers[api_key].arg = arg;
	srv->handlers[api_key].pick = NULL;
	return 0;
}

int net_server_handle_picked(struct net_server *srv, int16_t api_key, net_handler_fn fn, void *arg,
			     net_pick_fn pick)
{
	int rc = net_server_handle(srv, api_key, fn, arg);

	if (rc == 0)
		srv->handlers[api_key].pick = pick;
	return rc;
}

/* Binds listener i. */
static int listener_open(struct net_server *srv, int i)
{
	const struct net_endpoint *ep = &srv->cfg.listeners[i];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char port[8];
	int fd = -1, one = 1, rc;

	snprintf(port, sizeof(port), "%d", ep->port);
	rc = getaddrinfo(ep->host[0] ? ep->host : NULL, port, &hints, &ai);
	if (rc)
		return rc == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, SOMAXCONN) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		rc = -errno;
		goto out;
	}
	srv->lst[i].kind = OBJ_LISTENER;
	srv->lst[i].idx = i;
	srv->lst[i].fd = fd;
	srv->lst[i].port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							  : ((struct sockaddr_in *)&ss)->sin_port);
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	if (rc)
		mq_log(MQ_ERR, "net: cannot listen on %s://%s:%d: %s", ep->name, ep->host, ep->port,
		       strerror(-rc));
	return rc;
}

static int loop_init(struct net_server *srv, struct net_loop *loop, int idx)
{
	struct epoll_event ev = { .events = EPOLLIN };

	loop->srv = srv;
	loop->idx = idx;
	loop->wake_kind = OBJ_WAKE;
	loop->cpu = -1;
	loop->next_late_check = INT64_MAX;
	pthread_mutex_init(&loop->lock, NULL);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->epfd < 0 || loop->efd < 0)
		return -errno;
	ev.data.ptr = &loop->wake_kind;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->efd, &ev))
		return -errno;
	return 0;
}

/* The listeners into loop 0's epoll, once: from then on connections are
 * accepted (the kernel's backlog held them before). */
static int listeners_add(struct net_server *srv)
{
	if (__atomic_exchange_n(&srv->accepting, 1, __ATOMIC_ACQ_REL))
		return 0;
	for (int i = 0; i < srv->cfg.n_listeners; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &srv->lst[i] };

		if (epoll_ctl(srv->loops[0].epfd, EPOLL_CTL_ADD, srv->lst[i].fd, &ev))
			return -errno;
	}
	return 0;
}

void net_server_set_io(struct net_server *srv, const struct io_ops *io)
{
	if (!srv->started && io)
		srv->io = io->sendfile ? io : &io_posix;
}

void net_server_set_fetch_late_ms(struct net_server *srv, int64_t ms)
{
	if (!srv->started && ms > 0)
		srv->fetch_late_ms = ms;
}

int net_req_file_error(const struct net_req *req, int *fd)
{
	*fd = req->file_err ? req->file_err_fd : -1;
	return req->file_err;
}

void net_server_set_limits(struct net_server *srv, int max_connections, int max_per_ip)
{
	int old = __atomic_exchange_n(&srv->cfg.max_connections, max_connections, __ATOMIC_RELAXED);
	int old_ip =
		__atomic_exchange_n(&srv->cfg.max_connections_per_ip, max_per_ip, __ATOMIC_RELAXED);

	/* Kafka's SocketServer.reconfigure words. */
	if (old != max_connections)
		mq_log(MQ_INFO, "net: Updating broker-wide maxConnections: %d", max_connections);
	if (old_ip != max_per_ip)
		mq_log(MQ_INFO, "net: Updating maxConnectionsPerIp: %d", max_per_ip);
	/* A raised limit frees slots at once: loop 0 takes the waiting
	 * connections; a lowered one holds the next accept, and the loops
	 * close the connections past it (loop_close_excess), as Kafka's. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (max_connections < old && srv->started)
		loops_wake_all(srv);
	else if (__atomic_load_n(&srv->accept_full, __ATOMIC_SEQ_CST))
		loop_wake(&srv->loops[0]);
}

void net_server_protect_listener(struct net_server *srv, int i)
{
	if (!srv->started && i >= 0 && i < srv->cfg.n_listeners && srv->cfg.n_listeners > 1)
		srv->protected_listener = i;
}

void net_server_hold_accepts(struct net_server *srv)
{
	if (!srv->started)
		srv->hold_accepts = true;
}

int net_server_accept(struct net_server *srv)
{
	if (!srv->started)
		return -EINVAL;
	if (__atomic_load_n(&srv->stopping, __ATOMIC_ACQUIRE))
		return -ESHUTDOWN; /* a broker stopped during its start */
	return listeners_add(srv);
}

int net_server_start(struct net_server *srv)
{
	int rc = 0;

	if (srv->started)
		return -EINVAL;
	srv->n_loops = srv->cfg.num_network_threads;
	srv->loops = calloc((size_t)srv->n_loops, sizeof(*srv->loops));
	srv->workers = calloc((size_t)srv->cfg.num_io_threads, sizeof(*srv->workers));
	srv->running = calloc((size_t)srv->cfg.num_io_threads, sizeof(*srv->running));
	if (!srv->loops || !srv->workers || !srv->running) {
		rc = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < srv->n_loops; i++) {
		srv->loops[i].epfd = srv->loops[i].efd = -1;
		rc = loop_init(srv, &srv->loops[i], i);
		if (rc)
			goto fail;
	}
	for (int i = 0; i < srv->cfg.n_listeners; i++) {
		rc = listener_open(srv, i);
		if (rc)
			goto fail;
	}
	if (!srv->hold_accepts) {
		rc = listeners_add(srv);
		if (rc)
			goto fail;
	}
	srv->started = true;
	for (int i = 0; i < srv->cfg.num_io_threads; i++) {
		rc = -pthread_create(&srv->workers[i], NULL, worker_main, srv);
		if (rc)
			goto fail;
		pthread_setname_np(srv->workers[i], "mqfs-net-io");
		srv->n_workers++;
	}
	for (int i = 0; i < srv->n_loops; i++) {
		rc = -pthread_create(&srv->loops[i].thread, NULL, loop_main, &srv->loops[i]);
		if (rc)
			goto fail;
		pthread_setname_np(srv->loops[i].thread, "mqfs-net-loop");
		srv->loops[i].running = true;
	}
	return 0;
fail:
	net_server_stop(srv);
	srv->started = false;
	return rc;
}

int net_server_port(const struct net_server *srv, int i)
{
	if (!srv->started || i < 0 || i >= srv->cfg.n_listeners)
		return -ENOENT;
	return srv->lst[i].port;
}

void net_server_stop(struct net_server *srv)
{
	if (!srv || srv->stopped)
		return;
	srv->stopped = true;
	__atomic_store_n(&srv->stopping, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&srv->qlock);
	pthread_cond_broadcast(&srv->qcond);
	pthread_mutex_unlock(&srv->qlock);
	for (int i = 0; i < srv->n_workers; i++)
		pthread_join(srv->workers[i], NULL);
	for (int i = 0; srv->loops && i < srv->n_loops; i++) {
		struct net_loop *loop = &srv->loops[i];

		if (loop->running) {
			loop_wake(loop);
			pthread_join(loop->thread, NULL);
			loop->running = false;
		}
	}
	for (int i = 0; i < NET_MAX_LISTENERS; i++)
		if (srv->lst[i].fd >= 0) {
			close(srv->lst[i].fd);
			srv->lst[i].fd = -1;
		}
}

void net_server_free(struct net_server *srv)
{
	if (!srv)
		return;
	net_server_stop(srv);
	for (int i = 0; srv->loops && i < srv->n_loops; i++) {
		struct net_loop *loop = &srv->loops[i];

		while (loop->incoming) {
			struct net_incoming *in = loop->incoming;

			loop->incoming = in->next;
			close(in->fd);
			free(in);
		}
		if (loop->epfd >= 0)
			close(loop->epfd);
		if (loop->efd >= 0)
			close(loop->efd);
		pthread_mutex_destroy(&loop->lock);
	}
	for (int i = 0; i < IP_BUCKETS; i++)
		while (srv->ips[i]) {
			struct ip_count *e = srv->ips[i];

			srv->ips[i] = e->next;
			free(e);
		}
	free(srv->loops);
	free(srv->workers);
	free(srv->running);
	pthread_mutex_destroy(&srv->qlock);
	pthread_cond_destroy(&srv->qcond);
	pthread_mutex_destroy(&srv->iplock);
	pthread_mutex_destroy(&srv->blocklock);
	free(srv);
}

void net_server_stats(struct net_server *srv, struct net_stats *st)
{
	st->connections = __atomic_load_n(&srv->st.connections, __ATOMIC_RELAXED);
	st->accepted = __atomic_load_n(&srv->st.accepted, __ATOMIC_RELAXED);
	st->refused = __atomic_load_n(&srv->st.refused, __ATOMIC_RELAXED);
	st->closed_idle = __atomic_load_n(&srv->st.closed_idle, __ATOMIC_RELAXED);
	st->closed_expired = __atomic_load_n(&srv->st.closed_expired, __ATOMIC_RELAXED);
	st->closed_excess = __atomic_load_n(&srv->st.closed_excess, __ATOMIC_RELAXED);
	st->reauths = __atomic_load_n(&srv->st.reauths, __ATOMIC_RELAXED);
	st->frame_bytes = __atomic_load_n(&srv->st.frame_bytes, __ATOMIC_RELAXED);
	st->response_bytes = __atomic_load_n(&srv->st.response_bytes, __ATOMIC_RELAXED);
	st->parked_frame_bytes = __atomic_load_n(&srv->st.parked_frame_bytes, __ATOMIC_RELAXED);
	st->frames_dropped = __atomic_load_n(&srv->st.frames_dropped, __ATOMIC_RELAXED);
	st->requests = __atomic_load_n(&srv->st.requests, __ATOMIC_RELAXED);
	st->auth_failures = __atomic_load_n(&srv->st.auth_failures, __ATOMIC_RELAXED);
	st->accept_failures = __atomic_load_n(&srv->st.accept_failures, __ATOMIC_RELAXED);
	st->accept_pauses = __atomic_load_n(&srv->st.accept_pauses, __ATOMIC_RELAXED);
	st->muted = __atomic_load_n(&srv->st.muted, __ATOMIC_RELAXED);
	st->sasl_exchanges = __atomic_load_n(&srv->st.sasl_exchanges, __ATOMIC_RELAXED);
	st->n_listeners = srv->cfg.n_listeners;
	pthread_mutex_lock(&srv->blocklock);
	for (int i = 0; i < srv->cfg.n_listeners; i++) {
		const struct net_listener *l = &srv->lst[i];
		int64_t ns =
			l->blocked_ns + (l->full_since_ns ? now_mono_ns() - l->full_since_ns : 0);

		st->accept_blocked_ms[i] = ns / 1000000;
	}
	pthread_mutex_unlock(&srv->blocklock);
	st->peer_addresses = 0;
	pthread_mutex_lock(&srv->iplock);
	for (int i = 0; i < IP_BUCKETS; i++)
		for (const struct ip_count *e = srv->ips[i]; e; e = e->next)
			st->peer_addresses++;
	pthread_mutex_unlock(&srv->iplock);
}
