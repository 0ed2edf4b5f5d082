/*
 * forward.c — writes forwarded to the partition's leader (forward.h).
 *
 * This broker is one idempotent producer, as a Kafka client with
 * enable.idempotence is: a producer id from a block of ZooKeeper's
 * (producer_ids.h), and per partition an epoch and the next sequence
 * (struct partition's fwd_*, touched by the partition's appender only, so
 * one forwarded request per partition is in flight from this broker). A
 * write's records become record batches v2 carrying them (the engine's
 * encoder: batch.size, compression.type), sent as Produce to the leader
 * over the inter-broker listener (SASL with the brokers' own user).
 *
 * The resend rule, which makes a forwarded write land once:
 *   1. NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION (a leader that
 *      does not know the topic yet), KAFKA_STORAGE_ERROR of a leader
 *      whose log directory failed (its message PROTO_MSG_LOG_DIR_OFFLINE,
 *      or this broker's own offline replica: -ENXIO), a connection that
 *      fails or a broker
 *      that cannot be reached: wait for the leader this broker's metadata
 *      names (polling every FWD_POLL_MS) and send the SAME bytes again,
 *      until request.timeout.ms from the write's start. A leader that got
 *      them before (the old one, whose log the new leader replicated)
 *      answers with the offsets of that append (producer_state.h).
 *   2. Once this broker leads the partition, the same batches go to the
 *      local log through the same duplicate check (topic_produce_batches).
 *   3. Any failure ends the sequence's epoch here (the next write starts
 *      epoch + 1 at sequence 0; past the largest epoch, a new producer
 *      id): a write that may have been appended is never resent, and a
 *      later write can never be taken for it.
 *   4. Sent at least once without an answer, then out of time: -ETIMEDOUT
 *      (maybe appended), never -EAGAIN (which promises nothing appended).
 *   5. A leader that stops answering without closing the connection (a
 *      frozen process or machine) is not waited for once the metadata
 *      names another leader: the Produce waiting for its answer is in
 *      flights, and forwarder_leaders_moved wakes it (its connection's
 *      eventfd, which interrupts net_client_call); the connection is
 *      closed and rule 1 resends to the new leader, as for a lost
 *      connection. Without it the write would wait request.timeout.ms.
 *
 * Locks: mu guards the idle connections and the flights (a leaf but for
 * cluster_repl_leader_of's table lock, taken under it). A connection is
 * used by one thread at a time: taken off the idle list, put back after a
 * clean exchange, closed after any error.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "repl/broker_int.h"
#include "repl/cluster_repl.h"
#include "repl/forward.h"
#include "repl/observer.h"
#include "repl/net.h"
#include "repl/producer_ids.h"
#include "repl/proto.h"
#include "util/clock.h"
#include "util/diaglog.h"
#include "util/pause.h"

#define FWD_POLL_MS      50
#define FWD_CONNECT_MS   3000
#define FWD_IDLE_MAX     8    /* idle connections kept, over all leaders */
#define FWD_RESP_MARGIN  2000 /* the socket waits this much past the leader's timeout */
#define FWD_PRODUCE_VMAX 9

struct fwd_conn {
	struct fwd_conn *next;
	int32_t id;
	struct net_client *c;
	int wake; /* eventfd: rule 5 */
};

/* A Produce waiting for its leader's answer (rule 5). */
struct fwd_flight {
	struct fwd_flight *next;
	struct fwd_conn *k;
	const char *topic;
	int partition;
};

struct forwarder {
	struct cluster_repl *cr;
	struct producer_ids *pids;
	int32_t broker_id;
	pthread_mutex_t mu;
	struct fwd_conn *idle;
	int n_idle;
	struct fwd_flight *flights;
};

int forwarder_new(struct cluster_repl *cr, struct producer_ids *pids, int32_t broker_id,
		  struct forwarder **out)
{
	struct forwarder *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->cr = cr;
	f->pids = pids;
	f->broker_id = broker_id;
	pthread_mutex_init(&f->mu, NULL);
	*out = f;
	return 0;
}

static void conn_close(struct fwd_conn *k)
{
	net_client_close(k->c);
	close(k->wake);
	free(k);
}

void forwarder_free(struct forwarder *f)
{
	if (!f)
		return;
	while (f->idle) {
		struct fwd_conn *k = f->idle;

		f->idle = k->next;
		conn_close(k);
	}
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/* ---- connections ---- */

static struct fwd_conn *conn_take(struct forwarder *f, int32_t id, int64_t deadline)
{
	struct fwd_conn *k, **pp;
	int64_t left = deadline - now_mono_ms();
	int rc;

	pthread_mutex_lock(&f->mu);
	for (pp = &f->idle; *pp;) {
		if ((*pp)->id != id) {
			pp = &(*pp)->next;
			continue;
		}
		k = *pp;
		*pp = k->next;
		f->n_idle--;
		if (net_client_idle_ok(k->c)) {
			pthread_mutex_unlock(&f->mu);
			return k;
		}
		/* The leader closed it (connections.max.idle.ms, a restart):
		 * a request written there would be in doubt for nothing. */
		conn_close(k);
	}
	pthread_mutex_unlock(&f->mu);
	if (left <= 0)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->id = id;
	k->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (k->wake < 0) {
		free(k);
		return NULL;
	}
	left = left < FWD_CONNECT_MS ? left : FWD_CONNECT_MS;
	rc = cluster_repl_connect(f->cr, id, left, &k->c);
	if (rc < 0) {
		mq_log_limited(MQ_WARN, "forwarding writes: cannot reach broker %d: %s", (int)id,
			       strerror(-rc));
		close(k->wake);
		free(k);
		return NULL;
	}
	net_client_set_wake(k->c, k->wake);
	return k;
}

static void conn_put(struct forwarder *f, struct fwd_conn *k, bool good)
{
	if (good) {
		pthread_mutex_lock(&f->mu);
		if (f->n_idle < FWD_IDLE_MAX) {
			k->next = f->idle;
			f->idle = k;
			f->n_idle++;
			k = NULL;
		}
		pthread_mutex_unlock(&f->mu);
	}
	if (k)
		conn_close(k);
}

/* ---- rule 5 ---- */

/* Whether id still leads (topic, partition) here: no answer (a metadata
 * error) counts as yes, so that only a known move ends a wait. */
static bool still_leads(struct forwarder *f, const char *topic, int partition, int32_t id)
{
	int32_t leader = -1;

	return cluster_repl_leader_of(f->cr, topic, partition, &leader) < 0 || leader == id;
}

/* Puts fl in flights, then looks at the leader once more (a move just
 * before it was put there woke no one): false when it moved already. */
static bool flight_begin(struct forwarder *f, struct fwd_flight *fl)
{
	uint64_t v;

	/* A wake-up left from an earlier flight on this connection. */
	while (read(fl->k->wake, &v, sizeof(v)) > 0)
		;
	pthread_mutex_lock(&f->mu);
	fl->next = f->flights;
	f->flights = fl;
	pthread_mutex_unlock(&f->mu);
	return still_leads(f, fl->topic, fl->partition, fl->k->id);
}

static void flight_end(struct forwarder *f, struct fwd_flight *fl)
{
	pthread_mutex_lock(&f->mu);
	for (struct fwd_flight **pp = &f->flights; *pp; pp = &(*pp)->next)
		if (*pp == fl) {
			*pp = fl->next;
			break;
		}
	pthread_mutex_unlock(&f->mu);
}

void forwarder_leaders_moved(void *arg)
{
	struct forwarder *f = arg;
	const uint64_t one = 1;

	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	for (struct fwd_flight *fl = f->flights; fl; fl = fl->next)
		if (!still_leads(f, fl->topic, fl->partition, fl->k->id) &&
		    write(fl->k->wake, &one, sizeof(one)) < 0)
			mq_log_limited(MQ_WARN, "forwarding writes: wake-up of %s-%d lost: %s",
				       fl->topic, fl->partition, strerror(errno));
	pthread_mutex_unlock(&f->mu);
}

/* ---- one Produce to a remote leader ---- */

/* A partition's error code as the write's errno (forward_records). */
static int produce_errno(int16_t code)
{
	switch (code) {
	case PROTO_ERR_NONE: return 0;
	case PROTO_ERR_NOT_LEADER_OR_FOLLOWER:
	case PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION: return -EREMOTE;
	case PROTO_ERR_NOT_ENOUGH_REPLICAS: return -EAGAIN;
	case PROTO_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND: return -EL2NSYNC;
	case PROTO_ERR_REQUEST_TIMED_OUT: return -ETIMEDOUT;
	/* A batch over max.message.bytes, or over segment.bytes (the leader
	 * heard of a lower one first): the mount's record too large. */
	case PROTO_ERR_MESSAGE_TOO_LARGE:
	case PROTO_ERR_RECORD_LIST_TOO_LARGE: return -EMSGSIZE;
	/* The leader refused the records themselves, nothing appended: a
	 * line without a key where the leader has the topic compacted and
	 * this broker has not heard so yet. The leader's own mount answers
	 * that write EINVAL; EIO would say records may be missing. */
	case PROTO_ERR_INVALID_RECORD: return -EINVAL;
	case PROTO_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
	case PROTO_ERR_INVALID_PRODUCER_EPOCH: return -EILSEQ;
	default: return -EIO;
	}
}

/* Whether a KAFKA_STORAGE_ERROR's message holds what (PROTO_MSG_*). */
static bool says(struct kstr msg, const char *what)
{
	size_t n = strlen(what);

	if (!msg.ptr || msg.len < (int32_t)n)
		return false;
	for (int32_t i = 0; i + (int32_t)n <= msg.len; i++)
		if (!memcmp(msg.ptr + i, what, n))
			return true;
	return false;
}

/* The response's entry for (topic, partition): its error as errno, or
 * -EBADMSG when the leader answered something else. A full disk at the
 * leader is the writer's ENOSPC, as on the leader's own mount: nothing
 * appended (not EIO, which says records may be missing from the disk).
 * A leader whose log directory failed (PROTO_MSG_LOG_DIR_OFFLINE)
 * committed nothing and is losing the leadership: -ENXIO, and the
 * batches wait for the next leader as after NOT_LEADER_OR_FOLLOWER. */
static int produce_answer(const struct proto_produce_resp *r, const char *topic, int partition,
			  int16_t *code, int64_t *base_offset)
{
	for (int32_t i = 0; i < r->n_topics; i++) {
		const struct proto_produce_resp_topic *rt = &r->responses[i];

		if (rt->name.len != (int32_t)strlen(topic) ||
		    memcmp(rt->name.ptr, topic, (size_t)rt->name.len) != 0)
			continue;
		for (int32_t j = 0; j < rt->n_partitions; j++)
			if (rt->partition_responses[j].index == partition) {
				*code = rt->partition_responses[j].error_code;
				*base_offset = rt->partition_responses[j].base_offset;
				if (*code == PROTO_ERR_KAFKA_STORAGE_ERROR &&
				    says(rt->partition_responses[j].error_message,
					 PROTO_MSG_LOG_DIR_OFFLINE))
					return -ENXIO;
				if (*code == PROTO_ERR_KAFKA_STORAGE_ERROR &&
				    says(rt->partition_responses[j].error_message,
					 PROTO_MSG_DISK_FULL))
					return -ENOSPC;
				return produce_errno(*code);
			}
	}
	return -EBADMSG;
}

/* Sends the batches to leader id. *sent: the request went out (the
 * leader may have appended it even without an answer). -ENOTCONN: no
 * answer (connection, timeout). */
static int send_remote(struct forwarder *f, int32_t id, const char *topic, int partition,
		       const uint8_t *buf, size_t len, int16_t acks, int64_t deadline, bool *sent,
		       int64_t *base_offset)
{
	struct proto_produce_part part = {
		.index = partition, .records_len = (int32_t)len, .records = buf, .records_fd = -1
	};
	struct proto_produce_topic td = { .name = kstr_of(topic),
					  .n_partitions = 1,
					  .partition_data = &part };
	struct proto_produce_req req = {
		.transactional_id = KSTR_NULL, .acks = acks, .n_topics = 1, .topic_data = &td
	};
	struct proto_produce_resp resp = { 0 };
	struct net_resp nr = { 0 };
	struct proto_out out;
	struct fwd_conn *k = conn_take(f, id, deadline);
	int64_t left = deadline - now_mono_ms();
	int16_t code = -1;
	int v, rc;

	if (!k)
		return -ENOTCONN;
	v = net_client_version(k->c, PROTO_API_PRODUCE);
	if (v > FWD_PRODUCE_VMAX)
		v = FWD_PRODUCE_VMAX;
	if (v < 3) {
		conn_put(f, k, true);
		return -EIO;
	}
	req.timeout_ms = (int32_t)(left > 0 ? (left < INT32_MAX ? left : INT32_MAX) : 1);
	proto_out_init(&out, len + 4096);
	rc = proto_produce_req_body(&out, (int16_t)v, &req);
	if (rc == 0) {
		struct fwd_flight fl = { .k = k, .topic = topic, .partition = partition };

		if (flight_begin(f, &fl)) {
			*sent = true;
			rc = net_client_call(k->c, PROTO_API_PRODUCE, (int16_t)v, out.w.buf,
					     out.w.len, 0, req.timeout_ms + FWD_RESP_MARGIN, &nr);
		} else {
			rc = -EREMOTE; /* not sent: the next leader's */
		}
		flight_end(f, &fl);
		if (rc == -EINTR)
			mq_log_limited(MQ_INFO,
				       "forwarding writes: %s-%d: broker %d no longer leads it and "
				       "has not answered: sent to the new leader",
				       topic, partition, (int)id);
		if (rc < 0 && rc != -EREMOTE)
			rc = -ENOTCONN;
	}
	proto_out_free(&out);
	if (rc == 0) {
		rc = proto_produce_resp_decode(&nr.body, (int16_t)v, &resp);
		if (rc == 0)
			rc = produce_answer(&resp, topic, partition, &code, base_offset);
		if (rc == -EBADMSG)
			mq_log_limited(MQ_ERR,
				       "forwarding writes: broker %d answered Produce for %s-%d "
				       "without that partition",
				       (int)id, topic, partition);
		else if (rc < 0 && rc != -EREMOTE)
			mq_log_limited(MQ_WARN, "forwarding writes: broker %d: %s-%d: %s", (int)id,
				       topic, partition, proto_err_name(code));
		proto_produce_resp_free(&resp);
	}
	net_resp_free(&nr);
	conn_put(f, k, rc != -ENOTCONN && rc != -EBADMSG);
	return rc;
}

/* ---- the write ---- */

/* Rule 3: the partition's next write starts a new epoch. */
static void sequence_end(struct partition *pt)
{
	if (pt->fwd_epoch == INT16_MAX)
		pt->fwd_pid = -1; /* a new producer id next time */
	else
		pt->fwd_epoch++;
	pt->fwd_seq = 0;
}

/* The resend loop of rules 1, 2 and 4 over the encoded batches.
 * *remote_base: the base offset a remote leader answered, -1 when the
 * batches went to this broker's own log. */
static int deliver(struct forwarder *f, struct topic *t, struct partition *pt, int16_t acks,
		   uint8_t *buf, size_t len, int64_t deadline, int64_t *remote_base)
{
	bool doubt = false; /* sent without an answer at least once */
	int rc = -EAGAIN;

	for (;;) {
		int32_t leader = -1;
		int64_t left = deadline - now_mono_ms();
		bool sent = false;

		if (left <= 0)
			break;
		if (atomic_load(&t->deleted))
			return -ENOENT;
		rc = cluster_repl_leader_of(f->cr, t->name, pt->index, &leader);
		*remote_base = -1;
		if (rc == 0 && leader == f->broker_id) {
			struct produce_batches_result res;

			rc = topic_produce_batches(t, pt->index, buf, len, acks, left, &res, NULL);
			if (rc == -E2BIG) /* over segment.bytes: a record too large */
				rc = -EMSGSIZE;
			if (rc != -EREMOTE && rc != -ENXIO)
				break;
		} else if (rc == 0 && leader >= 0) {
			rc = send_remote(f, leader, t->name, pt->index, buf, len, acks, deadline,
					 &sent, remote_base);
			doubt = doubt || (sent && rc == -ENOTCONN);
			if (rc != -EREMOTE && rc != -ENOTCONN && rc != -ENXIO)
				break;
		}
		rc = -EAGAIN;
		left = deadline - now_mono_ms();
		pause_ms(left < FWD_POLL_MS ? (left > 0 ? left : 0) : FWD_POLL_MS);
	}
	if (rc == -EAGAIN && now_mono_ms() >= deadline)
		mq_log_limited(MQ_WARN,
			       "topic %s partition %d: write not forwarded: no leader took it "
			       "within request.timeout.ms",
			       t->name, pt->index);
	return rc == -EAGAIN && doubt ? -ETIMEDOUT : rc;
}

/* How long a read of this mount waits for its replica's hw to reach the
 * end of a write forwarded from here. The leader tells an in-sync
 * follower of a hw move at once, or after the 20 ms linger that follows
 * a response of 64 KiB of records or more (repl/fetch_serve.c); a second
 * covers a loaded machine. Past it (a replica that fell behind, out of
 * the ISR soon) reads go on without. */
#define FWD_READ_FLOOR_MS 1000

void forward_read_floor(struct topic *t, struct partition *pt, int64_t end)
{
	int64_t until = now_mono_ms() + FWD_READ_FLOOR_MS, was;
	struct log_state st;
	struct log *l;

	/* Only a replica that holds the records learns they are committed
	 * at its next fetch (its hw is the leader's, capped at its own log
	 * end). One that does not (out of the leader's ISR, its disk full
	 * or offline) would make every read wait its second in vain: its
	 * reads go on as they are. */
	if (part_log(t, pt->index, &pt, &l) < 0)
		return;
	log_get_state(l, &st);
	log_unref(l);
	if (st.log_end_offset < end)
		return;
	was = atomic_load(&pt->read_floor);

	/* The partition's floor before the topic's deadline: a reader that
	 * sees the topic's deadline sees the floor. */
	while (end > was && !atomic_compare_exchange_weak(&pt->read_floor, &was, end))
		;
	atomic_store(&pt->read_floor_until, until);
	was = atomic_load(&t->read_floor_until);
	while (until > was && !atomic_compare_exchange_weak(&t->read_floor_until, &was, until))
		;
}

int forward_records(struct forwarder *f, struct topic *t, struct partition *pt,
		    const struct log_config *lc, int acks, const struct rec_in *recs, int n)
{
	int64_t start = now_mono_ms(), timeout = t->b->cfg.request_timeout_ms;
	struct batch_producer pr;
	uint8_t *buf = NULL;
	size_t len = 0;
	int64_t base = -1;
	int rc;

	if (pt->fwd_pid < 0) {
		rc = producer_ids_next(f->pids, &pt->fwd_pid);
		if (rc < 0) {
			pt->fwd_pid = -1;
			return -EAGAIN;
		}
		pt->fwd_epoch = 0;
		pt->fwd_seq = 0;
	}
	pr = (struct batch_producer){ pt->fwd_pid, pt->fwd_epoch, pt->fwd_seq };
	rc = log_encode_batches(lc, recs, n, &pr, &buf, &len, NULL);
	if (rc < 0)
		return rc;
	rc = deliver(f, t, pt, acks == 0 ? 1 : (int16_t)acks, buf, len, start + timeout, &base);
	free(buf);
	if (rc == 0) {
		pt->fwd_seq = batch_seq_add(pt->fwd_seq, n);
		/* Committed: a reader of this mount's read copy (observer.h)
		 * sees the records once write() returns. A copy that cannot
		 * catch up in time is logged; the write itself succeeded. */
		if (acks == -1 && base >= 0) {
			observer_wait(cluster_observers(t->b->cluster), t->name, pt->index,
				      base + n, start + timeout);
			forward_read_floor(t, pt, base + n);
		}
		return 0;
	}
	sequence_end(pt);
	if (rc == -EILSEQ) {
		mq_log_limited(MQ_ERR,
			       "topic %s partition %d: forwarded write refused by the leader "
			       "(producer %" PRId64 " epoch %d sequence %d out of step); "
			       "nothing appended, a new epoch from the next write",
			       t->name, pt->index, pr.producer_id, (int)pr.producer_epoch,
			       (int)pr.base_sequence);
		rc = -EIO;
	} else if (rc == -EL2NSYNC) {
		mq_log_limited(MQ_WARN,
			       "topic %s partition %d: forwarded write not acknowledged: the ISR "
			       "shrank below min.insync.replicas after the leader appended it",
			       t->name, pt->index);
		rc = -ETIMEDOUT; /* appended, not acknowledged */
	} else if (rc == -ETIMEDOUT && now_mono_ms() < start + timeout) {
		/* Before the deadline: the commit wait ended with a change of
		 * leader (this broker's own, or the one it sent to). */
		mq_log_limited(MQ_WARN,
			       "topic %s partition %d: forwarded write not confirmed: the "
			       "leadership moved before it was committed (it may be appended)",
			       t->name, pt->index);
	} else if (rc == -ETIMEDOUT) {
		mq_log_limited(MQ_WARN,
			       "topic %s partition %d: forwarded write not confirmed within "
			       "request.timeout.ms=%" PRId64 " (it may be appended)",
			       t->name, pt->index, timeout);
	}
	return rc;
}
