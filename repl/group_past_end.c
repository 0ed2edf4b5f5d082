/*
 * group_past_end.c — a commit past a follower's log end, asked of the
 * partition's leader.
 *
 * A Kafka client may commit any offset. Where a partition's owner reads
 * the partition's own log (one node, the leader's mount), a commit past
 * its end starts at auto.offset.reset (group_offsets.c past_end). A
 * follower's copy cannot tell such a commit from one its copy has not
 * reached yet, so, as a Kafka consumer fetching from a follower asks the
 * leader with ListOffsets before it resets (KIP-392), the owner waits
 * (gpart.ask_leader, position -1) and this file asks:
 *
 *   1. under coord.mu and each group.mu: the partitions whose owner waits
 *      on a commit C, each with a reference to its group;
 *   2. with no lock held: ListOffsets of the partition, timestamp -1
 *      (latest), replica_id this broker's id, at the leader in this
 *      broker's metadata, which answers its log end offset (offsets_serve.c
 *      rule 4) over a connection of its own (group_admin_once);
 *   3. under group.mu, when the owner still waits on C: the answer is
 *      gpart.leader_end, and when C is past it the position is resolved
 *      again, now at auto.offset.reset (logged as on the leader); then
 *      the owner is woken. C at or below the leader's end: the copy lags,
 *      the owner reads once its copy reaches C.
 *
 * No answer (the leader down, moving, or no leader known) changes
 * nothing: the owner waits and the leader is asked again at the next
 * call (the group timer's, every second). A broker that leads the
 * partition now needs no question: its owner's next read resolves it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/cluster.h"
#include "repl/config.h"
#include "repl/group_int.h"
#include "repl/proto.h"
#include "util/diaglog.h"

#define PAST_END_ASK_MS 1000 /* one question, connect included */

struct past_end_ask {
	struct group *g; /* a reference */
	int p;
	int64_t committed;
};

static int lo_encode(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_list_offsets_req_encode(w, v, req);
}

/* The one partition's error, and its offset into ctx (an int64_t). */
static int lo_decode(struct kbuf_r *r, int16_t v, void *ctx, int16_t *err, char *msg, size_t cap)
{
	struct proto_list_offsets_resp resp;
	const struct proto_list_offsets_resp_part *rp;
	int rc = proto_list_offsets_resp_decode(r, v, &resp);

	(void)msg;
	(void)cap;
	if (rc < 0)
		return rc;
	if (resp.n_topics != 1 || resp.topics[0].n_partitions != 1) {
		rc = -EBADMSG;
		goto out;
	}
	rp = &resp.topics[0].partitions[0];
	*err = rp->error_code;
	if (v == 0)
		*(int64_t *)ctx = rp->n_old_style_offsets > 0 ? rp->old_style_offsets[0] : -1;
	else
		*(int64_t *)ctx = rp->offset;
	if (*err == PROTO_ERR_NONE && *(int64_t *)ctx < 0)
		rc = -EBADMSG;
out:
	proto_list_offsets_resp_free(&resp);
	return rc;
}

/* The log end offset of topic's partition p at broker node (its leader):
 * 0, or -errno (not reached, or its Kafka error). No lock held. */
static int leader_log_end(struct group_coord *gc, int32_t node, const char *topic, int p,
			  int64_t *log_end_offset)
{
	struct proto_list_offsets_part lp = { .partition_index = p,
					      .current_leader_epoch = -1,
					      .timestamp = PROTO_LIST_OFFSETS_LATEST,
					      .max_num_offsets = 1 };
	struct proto_list_offsets_topic lt = { .name = kstr_of(topic),
					       .n_partitions = 1,
					       .partitions = &lp };
	/* As a replica: the leader answers its log end offset, not its hw. */
	struct proto_list_offsets_req req = { .replica_id = broker_cfg(gc->b)->broker_id,
					      .isolation_level = PROTO_READ_UNCOMMITTED,
					      .n_topics = 1,
					      .topics = &lt };
	struct gadm_call call = { .api = PROTO_API_LIST_OFFSETS,
				  .what = "ListOffsets",
				  .encode = lo_encode,
				  .req = &req,
				  .decode = lo_decode,
				  .ctx = log_end_offset,
				  .timeout_ms = PAST_END_ASK_MS };
	int16_t err = PROTO_ERR_NONE;
	char msg[8];
	int rc = group_admin_once(gc, node, &call, &err, msg, sizeof(msg));

	if (rc == 0 && err != PROTO_ERR_NONE)
		rc = -EPROTO;
	return rc;
}

/* Step 1: the waiting owners' partitions into *out (free after, and
 * group_put each group). Takes coord.mu and group.mu. */
static int collect(struct group_coord *gc, struct past_end_ask **out)
{
	struct past_end_ask *v = NULL;
	int n = 0, cap = 0;

	pthread_mutex_lock(&gc->mu);
	for (int i = 0; i < gc->ngroups; i++) {
		struct group *g = gc->groups[i];

		pthread_mutex_lock(&g->mu);
		for (int p = 0; p < g->nparts; p++) {
			const struct gpart *gp = &g->parts[p];

			/* A guest (another broker's member) reads there. */
			if (!gp->owner || gp->owner->guest || gp->pos >= 0 || gp->ask_leader < 0)
				continue;
			if (n == cap) {
				int nc = cap ? 2 * cap : 8;
				struct past_end_ask *nv = realloc(v, (size_t)nc * sizeof(*nv));

				if (!nv)
					break; /* the rest at the next call */
				v = nv;
				cap = nc;
			}
			atomic_fetch_add(&g->refs, 1);
			v[n++] = (struct past_end_ask){ .g = g,
							.p = p,
							.committed = gp->ask_leader };
		}
		pthread_mutex_unlock(&g->mu);
	}
	pthread_mutex_unlock(&gc->mu);
	*out = v;
	return n;
}

/* Step 3: the leader's log end for a's question. Takes group.mu. */
static void answer(struct past_end_ask *a, int64_t log_end_offset)
{
	struct group *g = a->g;
	struct gpart *gp;

	if (group_lock_live(g) < 0)
		return;
	gp = a->p < g->nparts ? &g->parts[a->p] : NULL;
	if (gp && gp->owner && gp->pos < 0 && gp->ask_leader == a->committed) {
		gp->leader_end = log_end_offset;
		if (a->committed > log_end_offset)
			group_part_resolve(g, a->p);
	}
	pthread_mutex_unlock(&g->mu);
	group_notify_queue(g->gc, g->topic, a->p);
}

bool group_past_end_check(struct group_coord *gc)
{
	struct broker *b = gc->b;
	struct past_end_ask *v;
	int32_t silent[8]; /* leaders not reached in this call: not asked again */
	int n = collect(gc, &v), nsilent = 0;

	for (int i = 0; i < n; i++) {
		struct past_end_ask *a = &v[i];
		int32_t leader = b->cluster ? cluster_leader(b->cluster, a->g->topic, a->p) : -1;
		int64_t log_end_offset = -1;
		bool was_silent = false;
		int rc;

		for (int k = 0; k < nsilent; k++)
			was_silent |= silent[k] == leader;
		if (was_silent) {
			/* One timeout per leader and call: the group timer
			 * also expires sessions. */
		} else if (leader == broker_cfg(b)->broker_id) {
			/* Leads now: the owner's next read resolves it here. */
			group_notify_queue(gc, a->g->topic, a->p);
		} else if (leader < 0) {
			mq_log_limited(
				MQ_INFO,
				"group %s of topic %s: partition %d: committed offset %" PRId64
				" is past this copy's log end and the partition has no "
				"leader now: its consume member waits",
				a->g->name, a->g->topic, a->p, a->committed);
		} else if ((rc = leader_log_end(gc, leader, a->g->topic, a->p, &log_end_offset)) <
			   0) {
			mq_log_limited(
				MQ_INFO,
				"group %s of topic %s: partition %d: committed offset %" PRId64
				" is past this copy's log end and its leader, broker %d, "
				"did not tell its log end: %s; its consume member waits",
				a->g->name, a->g->topic, a->p, a->committed, (int)leader,
				strerror(-rc));
			if (nsilent < (int)(sizeof(silent) / sizeof(silent[0])))
				silent[nsilent++] = leader;
		} else {
			answer(a, log_end_offset);
		}
		group_put(a->g);
	}
	free(v);
	return n > 0;
}
