/*
 * group_offsets.c — offsets and line positions of a group's partitions.
 *
 * A partition's log is read as lines (its line view); a consume stream
 * keeps line positions, a commit is an offset. This file maps between
 * them through the topic (part_lookup, under topic.lock read), finds where
 * a partition's owner starts (the committed offset, or auto.offset.reset
 * when there is none: earliest is the log start offset, latest the high
 * watermark), and answers the group's offset files: the committed offset
 * of a partition, and its reset by an administrator.
 *
 * The committed offset is the next record to consume, kept as committed:
 * a Kafka client may commit -2 (earliest) or -1, which the mount reads as
 * librdkafka does, -2 as the log start and any other negative as none
 * (group_start_offset). Where an owner starts is never a guess: a lookup
 * that fails (a damaged batch, an I/O error) is returned and logged, and
 * the owner's position stays unknown (-1) until a lookup succeeds, so
 * that no record is skipped.
 *
 * A reset ("N", "earliest", "latest", "@<time>") is a commit with
 * metadata "reset", refused (-EBUSY) while the group has members (consume
 * files, or Kafka consumers of a group of that name), as
 * Kafka refuses to reset an active group. On a proxy (another broker
 * coordinates the group) the value is resolved here alike and the offset
 * committed at the coordinator (group_admin.c), which refuses it while
 * the group has members there. Times are strict ISO-8601 or
 * epoch milliseconds (parse_timestamp).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repl/group_int.h"

int group_part_lock(struct topic *t, int p, struct log **l)
{
	pthread_rwlock_rdlock(&t->lock);
	if (atomic_load(&t->deleted) || p < 0 || p >= t->nparts) {
		pthread_rwlock_unlock(&t->lock);
		return -ENOENT;
	}
	/* The read copy once a group reads one (no replica here, or one that
	 * was out of the ISR: the group's cursors are on it for good), else
	 * the replica's log. */
	*l = atomic_load(&t->parts[p]->obs_log) ? atomic_load(&t->parts[p]->obs_log)
						: t->parts[p]->log;
	return 0;
}

enum lookup { OFF_TO_POS, POS_TO_OFF, TIME_TO_OFF };

/* One lookup in partition p's log, under topic.lock (read):
 *   OFF_TO_POS   the line position where offset in starts; the hw's at or
 *                past the hw, the log start's at or before the log start
 *   POS_TO_OFF   the offset of the first record at or after line
 *                position in; the hw at or past the hw's position; a
 *                bad batch's base offset at its first byte, where a
 *                read stops (log_pos_to_offset_bound)
 *   TIME_TO_OFF  the first offset with a timestamp at or after in (ms);
 *                the hw when none, never below the log start offset
 * A position or offset past what the log holds (-ERANGE) is the hw's. A
 * failed lookup (a damaged batch, an I/O error) is returned, never
 * replaced by a guess: a guess past the records would skip them. */
static int part_lookup(struct topic *t, int p, enum lookup kind, int64_t in, int64_t *out)
{
	struct log_state st;
	struct log *l;
	int rc = group_part_lock(t, p, &l);

	if (rc < 0)
		return rc;
	if (!l) {
		/* No replica here: an empty partition, everything at 0. */
		pthread_rwlock_unlock(&t->lock);
		*out = 0;
		return 0;
	}
	log_get_state(l, &st);
	switch (kind) {
	case OFF_TO_POS:
		if (in >= st.hw)
			*out = st.line_hw;
		else if (in <= st.log_start_offset)
			*out = st.line_start;
		else
			rc = log_offset_to_pos(l, in, out);
		break;
	case POS_TO_OFF:
		if (in >= st.line_hw)
			*out = st.hw;
		else
			rc = log_pos_to_offset_bound(l, in, out);
		break;
	case TIME_TO_OFF:
		/* Never below the log start: the engine's lookup by time
		 * answers none there. */
		if (log_time_to_offset(l, in, out) < 0 || *out > st.hw)
			*out = st.hw;
		break;
	}
	if (rc == -ERANGE) {
		*out = kind == OFF_TO_POS ? st.line_hw : st.hw;
		rc = 0;
	}
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

int group_off_to_pos(struct topic *t, int p, int64_t off, int64_t *pos)
{
	return part_lookup(t, p, OFF_TO_POS, off, pos);
}

int group_pos_to_off(struct topic *t, int p, int64_t pos, int64_t *off)
{
	return part_lookup(t, p, POS_TO_OFF, pos, off);
}

int32_t group_off_epoch(struct topic *t, int p, int64_t off)
{
	struct log *l;
	int32_t epoch = -1;

	if (off <= 0 || group_part_lock(t, p, &l) < 0)
		return -1;
	if (l)
		epoch = log_epoch_for_offset(l, off - 1);
	pthread_rwlock_unlock(&t->lock);
	return epoch;
}

int64_t group_start_offset(int64_t committed, bool reset_latest, const struct log_state *st)
{
	if (committed >= 0)
		return committed;
	if (committed == GROUP_OFFSET_EARLIEST || !reset_latest)
		return st->log_start_offset;
	return st->hw;
}

int64_t group_lag(struct broker *b, const char *topic, int p, int64_t committed, bool reset_latest,
		  const struct log_state *st)
{
	int64_t from = group_start_offset(committed, reset_latest, st);

	if (from > st->log_end_offset &&
	    (!broker_replicated(b, topic) || cluster_leads(b->cluster, topic, p)))
		from = group_start_offset(GROUP_OFFSET_NONE, reset_latest, st);
	/* A commit below the log start (retention or DeleteRecords moved it
	 * past the group): the records in between are gone and the next
	 * owner's reads start at the log start, so they are no lag. */
	if (from < st->log_start_offset)
		from = st->log_start_offset;
	return st->hw > from ? st->hw - from : 0;
}

/* The offset partition p of g is read from when committed at committed
 * (its own, or its coordinator's). Needs g->mu. */
static int resolved_offset(struct group *g, int p, int64_t committed, int64_t *off)
{
	struct log_state st;
	int rc;

	if (committed >= 0) {
		*off = committed;
		return 0;
	}
	rc = topic_log_state(g->t, p, &st);
	if (rc < 0)
		return rc;
	*off = group_start_offset(committed, g->reset_latest, &st);
	return 0;
}

/* A committed offset past the log end (a Kafka client may commit any
 * offset; the mount's reset refuses one) would leave a member waiting for
 * offsets that may never come. Where this log is the partition's own (one
 * node, or the leader here), the member starts as a Kafka consumer told
 * OFFSET_OUT_OF_RANGE does: at auto.offset.reset, logged. A follower's
 * copy may just lag behind the commit, so there the leader decides, as a
 * Kafka consumer fetching from a follower asks the leader (ListOffsets)
 * before it resets: true, the owner waits until the leader's log end
 * offset for this commit is known (group_past_end_check asks it, with no
 * lock held) or the copy reaches the commit; once the leader's log ends
 * below the commit, the member starts at auto.offset.reset as on the
 * leader. Needs g->mu. */
static bool past_end(struct group *g, int p, int64_t *off)
{
	struct broker *b = g->gc->b;
	struct gpart *gp = &g->parts[p];
	struct log_state st;
	int64_t log_end;

	if (*off <= 0 || topic_log_state(g->t, p, &st) < 0 || *off <= st.log_end_offset) {
		gp->ask_leader = gp->leader_end = -1;
		return false;
	}
	log_end = st.log_end_offset;
	if (broker_replicated(b, g->topic) && !cluster_leads(b->cluster, g->topic, p)) {
		if (gp->ask_leader != *off) {
			gp->ask_leader = *off;
			gp->leader_end = -1;
			group_timer_kick(g->gc); /* it asks the leader */
		}
		if (gp->leader_end < 0 || *off <= gp->leader_end)
			return true;
		log_end = gp->leader_end;
	}
	gp->ask_leader = gp->leader_end = -1;
	mq_log_limited(MQ_WARN,
		       "group %s of topic %s: partition %d: committed offset %" PRId64
		       " is past the log end %" PRId64 ": read from the %s (auto.offset.reset)",
		       g->name, g->topic, p, *off, log_end,
		       g->reset_latest ? "high watermark" : "log start");
	*off = group_start_offset(GROUP_OFFSET_NONE, g->reset_latest, &st);
	return false;
}

/* Where the owner of p starts: the line position of its committed offset
 * (or auto.offset.reset). When that lookup fails the position stays
 * unknown (-1) and every read of the owner fails with the error until a
 * lookup succeeds: a guess could skip records. While a follower waits for
 * the leader's word on a commit past its copy's end (past_end) the
 * position is -1 too, and its reads find nothing. Needs g->mu. */
int group_part_resolve(struct group *g, int p)
{
	struct gpart *gp = &g->parts[p];
	int64_t off = -1, pos;
	int rc = resolved_offset(g, p, gp->committed, &off);

	if (rc == 0 && past_end(g, p, &off)) {
		gp->pos = -1;
		return 0;
	}
	if (rc == 0)
		rc = group_off_to_pos(g->t, p, off, &pos);
	if (rc < 0) {
		gp->pos = -1;
		mq_log_limited(MQ_ERR,
			       "group %s of topic %s: partition %d: cannot find the "
			       "line position of offset %" PRId64 ": %s; its consume reads fail "
			       "until it is found",
			       g->name, g->topic, p, off, strerror(-rc));
		return rc;
	}
	gp->pos = gp->commit_pos = pos;
	return 0;
}

int32_t group_kafka_coordinator(struct group *g)
{
	int32_t node = -1;

	pthread_mutex_lock(&g->gc->mu);
	if (g->gc->connect && g->gc->kafka_coordinator)
		node = g->gc->kafka_coordinator(g->gc->kafka_arg, g->name);
	pthread_mutex_unlock(&g->gc->mu);
	return node;
}

int group_offset(struct group *g, int partition, int64_t *offset)
{
	int32_t node = group_kafka_coordinator(g), part = partition;
	int64_t remote = GROUP_OFFSET_NONE;
	/* Another broker coordinates the group: its commits are there, and
	 * its answer (-1 too: none, auto.offset.reset) is the offset, and
	 * this proxy's view of it from now on. No answer (that broker not
	 * reached, a Kafka error): what this broker knew last. */
	bool answered = node >= 0 && group_remote_offsets(g, node, &part, 1, &remote) == 0;
	int rc = group_lock_part(g, partition);

	if (rc < 0)
		return rc;
	if (answered)
		group_remote_learn(g, &part, &remote, 1);
	rc = resolved_offset(g, partition, answered ? remote : g->parts[partition].committed,
			     offset);
	pthread_mutex_unlock(&g->mu);
	return rc;
}

/* The n digits at p as a number; -1 unless all n are digits (stops at the
 * first non-digit, so never reads past a '\0'). */
static int fixed_digits(const char *p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* Strict ISO-8601: "2024-05-01" (UTC), "2024-05-01T12:00", "...T12:00:00",
 * "...T12:00:00.123", each optionally ending in Z or an offset +HH, +HHMM,
 * +HH:MM (-12:00..+14:00, the zones that exist); or epoch milliseconds.
 * A date or time that does not exist (2024-02-30, 24:00) is refused, not
 * carried into the next day. -EINVAL with the reason in why. */
static int parse_timestamp(const char *s, int64_t *ms, char *why, size_t whylen)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm = { 0 };
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, tzm = 0, dim;
	int64_t frac = 0;

	if (*s && strspn(s, "0123456789") == strlen(s)) {
		if (strlen(s) > 15) {
			snprintf(why, whylen, "epoch milliseconds over 15 digits");
			return -EINVAL;
		}
		*ms = strtoll(s, NULL, 10);
		return 0;
	}
	if ((y = fixed_digits(p, 4)) < 0 || p[4] != '-' || (mo = fixed_digits(p + 5, 2)) < 0 ||
	    p[7] != '-' || (d = fixed_digits(p + 8, 2)) < 0) {
		snprintf(why, whylen, "not YYYY-MM-DD[THH:MM[:SS[.mmm]]][Z|+HH:MM] nor epoch ms");
		return -EINVAL;
	}
	p += 10;
	if (mo < 1 || mo > 12) {
		snprintf(why, whylen, "month %02d does not exist", mo);
		return -EINVAL;
	}
	dim = mdays[mo - 1] + (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
	if (d < 1 || d > dim) {
		snprintf(why, whylen, "%04d-%02d has no day %02d", y, mo, d);
		return -EINVAL;
	}
	if (*p == 'T' || *p == ' ') {
		if ((h = fixed_digits(p + 1, 2)) < 0 || p[3] != ':' ||
		    (mi = fixed_digits(p + 4, 2)) < 0) {
			snprintf(why, whylen, "the time is not HH:MM[:SS[.mmm]]");
			return -EINVAL;
		}
		p += 6;
		if (*p == ':') {
			if ((sec = fixed_digits(p + 1, 2)) < 0) {
				snprintf(why, whylen, "the seconds are not two digits");
				return -EINVAL;
			}
			p += 3;
			if (*p == '.' || *p == ',') {
				int ndig = 0;

				for (p++; isdigit((unsigned char)*p); p++, ndig++)
					if (ndig < 3)
						frac = frac * 10 + (*p - '0');
				if (ndig == 0) {
					snprintf(why, whylen, "no digits after the decimal mark");
					return -EINVAL;
				}
				for (; ndig < 3; ndig++)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || sec > 59) {
			snprintf(why, whylen, "time %02d:%02d:%02d does not exist", h, mi, sec);
			return -EINVAL;
		}
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p == '-' ? -1 : 1, tzh = fixed_digits(p + 1, 2), tzmin = 0;

			if (tzh >= 0) {
				p += 3;
				if (*p == ':')
					p++;
				if (isdigit((unsigned char)*p) && (tzmin = fixed_digits(p, 2)) >= 0)
					p += 2;
			}
			tzm = sign * (tzh * 60 + tzmin);
			if (tzh < 0 || tzmin < 0 || tzmin > 59 || tzm < -12 * 60 || tzm > 14 * 60) {
				snprintf(
					why, whylen,
					"the time zone offset is not +HH, +HHMM or +HH:MM in -12:00..+14:00");
				return -EINVAL;
			}
		}
	}
	if (*p) {
		snprintf(why, whylen, "'%.20s' after the date and time", p);
		return -EINVAL;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ms = (int64_t)timegm(&tm) * 1000 + frac - (int64_t)tzm * 60000;
	return 0;
}

int group_offset_reset(struct group *g, int partition, const char *value, size_t len)
{
	struct log_state st;
	char v[80], why[160] = "not an offset, earliest, latest or @time";
	int64_t off = -1, ts;
	int32_t node;
	bool busy;
	int rc;

	while (len > 0 && isspace((unsigned char)value[len - 1]))
		len--;
	while (len > 0 && isspace((unsigned char)*value)) {
		value++;
		len--;
	}
	if (len == 0 || len >= sizeof(v) || memchr(value, '\n', len)) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: partition %d: reset refused: the "
			       "value is empty, over %zu bytes or several lines",
			       g->name, g->topic, partition, sizeof(v) - 1);
		return -EINVAL;
	}
	/* The value is read as a C string: a NUL would cut it short, and
	 * "latest\0junk" would pass as latest. */
	if (memchr(value, '\0', len)) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: partition %d: reset refused: the "
			       "value holds a NUL byte",
			       g->name, g->topic, partition);
		return -EINVAL;
	}
	memcpy(v, value, len);
	v[len] = '\0';
again:
	/* Kafka consumers of the group are members too (group_serve.c). */
	pthread_mutex_lock(&g->gc->mu);
	busy = g->gc->kafka_active && g->gc->kafka_active(g->gc->kafka_arg, g->name);
	node = group_remote_node(g);
	pthread_mutex_unlock(&g->gc->mu);
	if (busy) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: partition %d: reset refused: Kafka "
			       "consumers are members of the group",
			       g->name, g->topic, partition);
		return -EBUSY;
	}
	rc = group_lock_part(g, partition);
	if (rc < 0)
		return rc;
	if (g->nmembers > 0) {
		rc = -EBUSY;
		goto out;
	}
	rc = topic_log_state(g->t, partition, &st);
	if (rc < 0)
		goto out;
	rc = -EINVAL;
	if (!strcmp(v, "earliest")) {
		off = st.log_start_offset;
	} else if (!strcmp(v, "latest")) {
		off = st.hw;
	} else if (v[0] == '@') {
		if (parse_timestamp(v + 1, &ts, why, sizeof(why)) < 0)
			goto out;
		rc = part_lookup(g->t, partition, TIME_TO_OFF, ts, &off);
		if (rc < 0)
			goto out;
	} else if (strspn(v, "0123456789") == len && len <= 18) {
		off = strtoll(v, NULL, 10);
		if (off > st.log_end_offset) {
			snprintf(why, sizeof(why), "past the log end offset %" PRId64,
				 st.log_end_offset);
			goto out;
		}
	} else {
		goto out;
	}
	if (node != -1) {
		/* Another broker coordinates the group (this is its proxy, or
		 * a group not yet dropped after its coordinator moved): the
		 * offset resolved
		 * here, from this broker's view of the log as the
		 * coordinator's mount resolves it from its own, is committed
		 * there (as Kafka's AdminClient resets a group). */
		pthread_mutex_unlock(&g->mu);
		rc = group_admin_forward_commit(g, node, partition, off);
		if (rc == GADM_LOCAL)
			goto again;
		if (rc == 0) {
			pthread_mutex_lock(&g->mu);
			if (partition < g->nparts)
				g->parts[partition].committed = off;
			pthread_mutex_unlock(&g->mu);
		}
		return rc;
	}
	rc = group_store_commit(g, &partition, &off, NULL, 1, "reset");
	if (rc == 0)
		mq_log(MQ_INFO, "group %s of topic %s: partition %d reset to %" PRId64 " (%s)",
		       g->name, g->topic, partition, off, v);
out:
	if (rc == -EINVAL)
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: partition %d: reset to '%s' "
			       "refused: %s",
			       g->name, g->topic, partition, v, why);
	pthread_mutex_unlock(&g->mu);
	return rc;
}
