/*
 * group_store.c — the consumer groups' durable state: the records of the
 * internal topic __consumer_offsets, their replay at open and every write
 * (offset commits, group settings, tombstones).
 *
 * __consumer_offsets is hidden from the mount; the partition of a group is
 * Kafka's abs(hashCode(group)) % partitions, its key.separator TAB, and
 * cleanup.policy=compact when the broker knows that key. One record per
 * line of its line view:
 *
 *   <group>/<topic>/<p> TAB <offset> SP <commit timestamp ms> SP <member>
 *        [SP expire.ms=<T>] [SP epoch=<E>] [SP metadata=<M>]
 *        an offset commit (Kafka's OffsetCommit key: group, topic,
 *        partition; value: offset, metadata, timestamps): <offset> is the
 *        next record to consume, or a negative one a Kafka client
 *        committed, kept as given (GROUP_OFFSET_NONE), -1 too: a
 *        partition with a record is "stored" (gpart), whatever its
 *        offset. <member> is the committing member id, "kafka" or
 *        "reset" (for the log reader only). The timestamp (engine_now_ms
 *        at the commit, or a version 1 OffsetCommit's commit_timestamp)
 *        is what the offset's retention counts from
 *        (offsets.retention.minutes, group_serve.c), on this broker after
 *        a restart and on a new coordinator alike. The optional trailing
 *        fields, absent from older records (which load as without them)
 *        and skipped by older readers (which scan the first two numbers):
 *        T, the wall ms the offset expires at (a version 2-4 commit's
 *        retention_time_ms, Kafka's expireTimestamp); E, the leader
 *        epoch committed with the offset (a version 6+ commit's
 *        committed_leader_epoch, Kafka's OffsetAndMetadata.leaderEpoch),
 *        absent when none (-1, Kafka's sentinel; any other value, a
 *        negative one too, is kept as given, as Kafka's ofSentinel); M, a Kafka
 *        commit's metadata string (OffsetAndMetadata.metadata), absent
 *        when empty. Member and M are written %XX-escaped (every byte but
 *        printable ASCII other than '%' and '\'), so that each is one
 *        token and the line view carries the record as it is.
 *   <group>/<topic> TAB partition.assignment.strategy=S SP
 *        auto.offset.reset=R SP session.timeout.ms=N [SP idle.since.ms=T]
 *        the group exists, with its settings (Kafka's GroupMetadata key),
 *        and, as Kafka's Empty record keeps when the group became Empty,
 *        T: the wall ms it lost its last member (its offsets' retention
 *        counts from it), or -1 when it had members as written (a load
 *        counts from the load: they left with that broker); absent: not
 *        known (never had a member; an older record). Written again
 *        when it gains its first member or loses its last (the timer
 *        thread, group_store_idle_flush); a .config write cannot set it.
 *   either key with an empty value: a tombstone (group or offset deleted).
 *        Written by rmdir of a group, and for every group of a topic when
 *        the topic is deleted; an offset's alone by OffsetDelete
 *        (group_offset_delete.c), Kafka's removal of one partition's
 *        offset: the group stays, that partition never committed.
 *   \<GroupMetadataKey> TAB <GroupMetadataValue>
 *        a Kafka consumer group's members, generation, protocol, leader
 *        and assignments, key and value in Kafka's binary layout (version
 *        2 key, version 3 value: group_meta.c), shown escaped as every
 *        record a line cannot carry; an empty value is its tombstone.
 *        Written by the Kafka groups (group_serve.c) when a generation's
 *        SyncGroup completes, when the group becomes Empty and when it is
 *        deleted. Their own key, so compaction keeps the last per group
 *        beside the mount's records of the same name.
 *
 * Names are [A-Za-z0-9._-], so '/' and TAB cannot occur in them.
 * Replay at open reads every record of every partition in order and keeps
 * the last per key, which is exactly what compaction preserves; a
 * malformed record is skipped and counted in one log line, a line over
 * REPLAY_LINE_MAX refuses the open (-EBADMSG). The Kafka groups' records
 * go to gc->kmeta and, after the replay, to the Kafka groups (the
 * kafka_load hook). A data directory from before those records simply
 * has none: its Kafka groups load with no members, as before. A write is
 * durable as any produce of the topic; memory changes only once it is
 * in.
 *
 * session.timeout.ms is validated (SESSION_MIN..SESSION_MAX, Kafka's
 * group.min/max.session.timeout.ms) and kept; it expires the members of
 * other brokers' mounts (group_guest.c), a local member is an open file.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/group_int.h"
#include "repl/group_meta.h"
#include "util/pct.h"

#define REPLAY_CHUNK    (256 * 1024)
/* The longest line a replay takes: a Kafka group's metadata record of
 * KG_GROUP_BYTES of subscriptions and as much of assignments, escaped
 * (up to four bytes a byte). */
#define REPLAY_LINE_MAX (16 * 1024 * 1024)
#define SESSION_MIN     6000    /* group.min.session.timeout.ms */
#define SESSION_MAX     1800000 /* group.max.session.timeout.ms */

/* One UTF-16 code unit into Java's String.hashCode (h = 31 * h + c). */
static uint32_t java_hash_unit(uint32_t h, uint32_t unit)
{
	return h * 31u + unit;
}

/* Walks [s, s + len) as Java's UTF-8 decoder reads it into a String
 * (an invalid byte decodes to U+FFFD), hashing its UTF-16 code units as
 * String.hashCode into *hash: their count, String.length(). */
static int64_t java_string(const char *s, size_t len, uint32_t *hash)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	uint32_t h = 0;
	int64_t units = 0;

	while (p < end) {
		size_t left = (size_t)(end - p);
		uint32_t cp;
		int n;

		if (p[0] < 0x80) {
			cp = p[0];
			n = 1;
		} else if ((p[0] & 0xe0) == 0xc0 && left >= 2 && (p[1] & 0xc0) == 0x80) {
			cp = (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
			n = cp >= 0x80 ? 2 : 0;
		} else if ((p[0] & 0xf0) == 0xe0 && left >= 3 && (p[1] & 0xc0) == 0x80 &&
			   (p[2] & 0xc0) == 0x80) {
			cp = (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 |
			     (p[2] & 0x3f);
			n = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff) ? 3 : 0;
		} else if ((p[0] & 0xf8) == 0xf0 && left >= 4 && (p[1] & 0xc0) == 0x80 &&
			   (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80) {
			cp = (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
			     (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
			n = cp >= 0x10000 && cp <= 0x10ffff ? 4 : 0;
		} else {
			cp = 0;
			n = 0;
		}
		if (n == 0) {
			cp = 0xfffd;
			n = 1;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			h = java_hash_unit(h, 0xd800 + (cp >> 10));
			h = java_hash_unit(h, 0xdc00 + (cp & 0x3ff));
			units += 2;
		} else {
			h = java_hash_unit(h, cp);
			units++;
		}
		p += n;
	}
	*hash = h;
	return units;
}

/* Kafka hashes the group id as a Java String: its UTF-16 code units, the
 * name decoded from the UTF-8 the client sent. */
int32_t group_java_hash(const char *s)
{
	uint32_t h;

	java_string(s, strlen(s), &h);
	return (int32_t)h;
}

int64_t group_java_length(const char *s, size_t len)
{
	uint32_t h;

	return java_string(s, len, &h);
}

/* Kafka's GroupMetadataManager.partitionFor: Utils.abs(groupId.hashCode)
 * % groupMetadataTopicPartitionCount, where Utils.abs(n) is n &
 * 0x7fffffff (so Integer.MIN_VALUE maps to 0, not to itself). */
int group_offsets_partition(const char *group, int partitions)
{
	int32_t h = group_java_hash(group);

	return partitions > 0 ? (int)((uint32_t)h & 0x7fffffffu) % partitions : 0;
}

int group_store_append(struct group_coord *gc, const char *group, const char *lines, size_t len)
{
	int p, rc;

	if (!gc->offsets)
		return -EAGAIN; /* a cluster that has not made it yet */
	/* In a cluster only the partition's leader writes, with its groups
	 * loaded: a broker that lost the leadership must not forward its
	 * commits to the new coordinator behind that one's back. */
	if (gc->cluster) {
		int32_t leader = -1;

		rc = offsets_coordinator(gc, group, &leader);
		if (rc != 1) {
			mq_log_limited(MQ_WARN,
				       "group %s: not written to %s: this broker does not "
				       "coordinate it now (broker %d does)",
				       group, GROUP_OFFSETS_TOPIC, (int)leader);
			return -EREMOTE;
		}
	}
	p = group_offsets_partition(group, topic_partitions(gc->offsets));
	rc = topic_produce(gc->offsets, p, lines, len, 0);

	if (rc < 0)
		mq_log_limited(MQ_ERR, "group %s: cannot write to %s: %s", group,
			       GROUP_OFFSETS_TOPIC, strerror(-rc));
	return rc;
}

static int meta_line(const struct group *g, char *buf, size_t len)
{
	char idle[48] = "";

	if (g->nmembers > 0)
		snprintf(idle, sizeof(idle), " idle.since.ms=-1");
	else if (g->idle_since > 0)
		snprintf(idle, sizeof(idle), " idle.since.ms=%lld", (long long)g->idle_since);
	return snprintf(buf, len,
			"%s/%s\tpartition.assignment.strategy=%s "
			"auto.offset.reset=%s session.timeout.ms=%d%s\n",
			g->name, g->topic, assign_strategy_name(g->strategy),
			g->reset_latest ? "latest" : "earliest", (int)g->session_timeout_ms, idle);
}

int group_store_meta(const struct group *g)
{
	char line[700];
	int n = meta_line(g, line, sizeof(line));

	return group_store_append(g->gc, g->name, line, (size_t)n);
}

void group_idle_mark(struct group *g)
{
	if (!g->idle_unsaved) {
		g->idle_unsaved = true;
		atomic_fetch_add(&g->gc->idle_unsaved, 1);
		group_timer_kick(g->gc);
	}
}

void group_store_idle_flush(struct group_coord *gc)
{
	struct group **cand;
	int n = 0;

	if (atomic_exchange(&gc->idle_unsaved, 0) == 0)
		return;
	pthread_mutex_lock(&gc->mu);
	cand = malloc((size_t)gc->ngroups * sizeof(*cand) + 1);
	for (int i = 0; cand && i < gc->ngroups; i++) {
		struct group *g = gc->groups[i];

		pthread_mutex_lock(&g->mu);
		if (g->idle_unsaved) {
			atomic_fetch_add(&g->refs, 1);
			cand[n++] = g;
		}
		pthread_mutex_unlock(&g->mu);
	}
	pthread_mutex_unlock(&gc->mu);
	if (!cand) {
		atomic_fetch_add(&gc->idle_unsaved, 1); /* tried again at the next call */
		return;
	}
	/* Each record is made under the group's lock from what it is then,
	 * so records written in any order end with its present state. A
	 * proxy writes nothing (its coordinator records its members). */
	for (int k = 0; k < n; k++) {
		struct group *g = cand[k];

		pthread_mutex_lock(&g->mu);
		if (g->idle_unsaved && !g->deleted && !g->moved && !g->proxy &&
		    group_store_meta(g) < 0)
			atomic_fetch_add(&gc->idle_unsaved, 1);
		else
			g->idle_unsaved = false;
		pthread_mutex_unlock(&g->mu);
		group_put(g);
	}
	free(cand);
}

int group_settings_each(const char *text, size_t len, char sep,
			int (*fn)(const char *k, size_t kl, const char *v, size_t vl, void *arg,
				  char *why, size_t whylen),
			void *arg, char *why, size_t whylen)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *e = memchr(p, sep, (size_t)(end - p)), *eq, *k, *v;
		size_t kl;
		int rc;

		if (!e)
			e = end;
		k = p;
		while (k < e && isspace((unsigned char)*k))
			k++;
		v = e;
		while (v > k && isspace((unsigned char)v[-1]))
			v--;
		p = e + 1;
		if (k == v || *k == '#')
			continue;
		/* Values are compared and parsed as C strings: a NUL would cut
		 * "6000\0x" to 6000 and pass the garbage after it. */
		if (memchr(k, '\0', (size_t)(v - k))) {
			snprintf(why, whylen, "'%s...': the line holds a NUL byte", k);
			return -EINVAL;
		}
		eq = memchr(k, '=', (size_t)(v - k));
		if (!eq) {
			snprintf(why, whylen, "'%.*s': expected key=value", (int)(v - k), k);
			return -EINVAL;
		}
		kl = (size_t)(eq - k);
		while (kl > 0 && isspace((unsigned char)k[kl - 1]))
			kl--;
		eq++;
		while (eq < v && isspace((unsigned char)*eq))
			eq++;
		rc = fn(k, kl, eq, (size_t)(v - eq), arg, why, whylen);
		if (rc)
			return rc;
	}
	return 0;
}

struct settings {
	int *strategy;
	bool *latest;
	int32_t *session;
};

static int setting_apply(const char *k, size_t kl, const char *eq, size_t vl, void *arg, char *why,
			 size_t whylen)
{
	struct settings *st = arg;

	if (kl == 29 && !memcmp(k, "partition.assignment.strategy", kl)) {
		int s = assign_strategy_parse(eq, vl);

		if (s < 0) {
			snprintf(why, whylen,
				 "partition.assignment.strategy: '%.*s' is not "
				 "range, roundrobin, sticky or cooperative-sticky",
				 (int)vl, eq);
			return -EINVAL;
		}
		*st->strategy = s;
	} else if (kl == 17 && !memcmp(k, "auto.offset.reset", kl)) {
		if (vl == 8 && !memcmp(eq, "earliest", 8))
			*st->latest = false;
		else if (vl == 6 && !memcmp(eq, "latest", 6))
			*st->latest = true;
		else {
			snprintf(why, whylen,
				 "auto.offset.reset: '%.*s' is not earliest or "
				 "latest",
				 (int)vl, eq);
			return -EINVAL;
		}
	} else if (kl == 18 && !memcmp(k, "session.timeout.ms", kl)) {
		char num[16];
		char *ep;
		long x;

		if (vl == 0 || vl >= sizeof(num)) {
			snprintf(why, whylen, "session.timeout.ms: not a number");
			return -EINVAL;
		}
		memcpy(num, eq, vl);
		num[vl] = '\0';
		x = strtol(num, &ep, 10);
		if (*ep || x < SESSION_MIN || x > SESSION_MAX) {
			snprintf(why, whylen, "session.timeout.ms: '%s' is not %d..%d", num,
				 SESSION_MIN, SESSION_MAX);
			return -EINVAL;
		}
		*st->session = (int32_t)x;
	} else {
		snprintf(why, whylen, "unknown key '%.*s'", (int)kl, k);
		return -EINVAL;
	}
	return 0;
}

int group_settings_apply(const char *text, size_t len, char sep, int *strategy, bool *latest,
			 int32_t *session, char *why, size_t whylen)
{
	struct settings st = { strategy, latest, session };

	return group_settings_each(text, len, sep, setting_apply, &st, why, whylen);
}

/* The decimal number that is all of [s, s + len) into *out: 0, or
 * -EBADMSG (empty, too long, anything else in it). */
static int token_num(const char *s, size_t len, long long *out)
{
	char num[24], *ep;

	if (len == 0 || len >= sizeof(num))
		return -EBADMSG;
	memcpy(num, s, len);
	num[len] = '\0';
	*out = strtoll(num, &ep, 10);
	return *ep ? -EBADMSG : 0;
}

struct replayed_settings {
	struct settings st; /* first: setting_apply takes it */
	int64_t *idle_since;
};

/* A settings record's key: the settings, and idle.since.ms, which only
 * the record carries (a .config write refuses it): the wall ms the group
 * lost its last member, or -1 when it had members as the record was
 * written; they left with the broker that held them, so the group is
 * idle from the load on, as a Kafka group loaded with members becomes
 * Empty once their sessions expire there. */
static int replay_setting(const char *k, size_t kl, const char *eq, size_t vl, void *arg, char *why,
			  size_t whylen)
{
	struct replayed_settings *rs = arg;
	long long x;

	if (kl != 13 || memcmp(k, "idle.since.ms", kl))
		return setting_apply(k, kl, eq, vl, &rs->st, why, whylen);
	if (token_num(eq, vl, &x) < 0 || (x < 1 && x != -1)) {
		snprintf(why, whylen, "idle.since.ms: '%.*s' is not a time",
			 (int)(vl < 23 ? vl : 23), eq);
		return -EINVAL;
	}
	*rs->idle_since = x == -1 ? engine_now_ms() : (int64_t)x;
	return 0;
}

/* %XX-escaped: all but printable ASCII other than '%' and '\\' (the
 * line view's escape), so that a field is one token a line carries. */
static bool plain_byte(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '%' && c != '\\';
}

static size_t escape_field(char *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (plain_byte(c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	return o;
}

/* escape_field's token [s, s + len) decoded into a malloc'd NUL-ended
 * string (*outlen bytes): 0, -EBADMSG (a malformed escape), -ENOMEM. */
static int unescape_field(const char *s, size_t len, char **out, size_t *outlen)
{
	char *d = malloc(len + 1);
	ssize_t n;

	if (!d)
		return -ENOMEM;
	n = pct_decode(s, len, d, len);
	if (n < 0) {
		free(d);
		return (int)n;
	}
	d[n] = '\0';
	*out = d;
	*outlen = (size_t)n;
	return 0;
}

/* An offset commit's value [val, val + vlen) into gp, whole (the last
 * record per key holds all of it: a field it lacks is none). */
static int replay_commit(struct gpart *gp, const char *val, size_t vlen)
{
	const char *p = val, *end = val + vlen;
	char *md = NULL;
	long long v[2] = { -1, 0 };
	long long expire = -1, epoch = -1;
	size_t mdlen = 0;
	int field = 0;

	/* Space-separated tokens: offset, timestamp (older records may
	 * lack it), member, then the optional fields. */
	while (p < end) {
		const char *e = memchr(p, ' ', (size_t)(end - p));
		size_t tl;

		if (!e)
			e = end;
		tl = (size_t)(e - p);
		if (field < 2) {
			if (token_num(p, tl, &v[field]) < 0)
				goto bad;
		} else if (field > 2 && tl > 10 && !memcmp(p, "expire.ms=", 10)) {
			if (token_num(p + 10, tl - 10, &expire) < 0 || expire < 0)
				goto bad;
		} else if (field > 2 && tl > 6 && !memcmp(p, "epoch=", 6)) {
			if (token_num(p + 6, tl - 6, &epoch) < 0 || epoch < INT32_MIN ||
			    epoch > INT32_MAX)
				goto bad;
		} else if (field > 2 && tl >= 9 && !memcmp(p, "metadata=", 9)) {
			int rc;

			free(md);
			md = NULL;
			rc = unescape_field(p + 9, tl - 9, &md, &mdlen);
			if (rc == -ENOMEM)
				return rc;
			if (rc < 0)
				goto bad;
		}
		field++;
		p = e + 1;
	}
	if (field < 1)
		goto bad;
	free(gp->metadata);
	gp->metadata = mdlen ? md : NULL;
	gp->mdlen = mdlen;
	if (!mdlen)
		free(md);
	gp->committed = v[0];
	gp->commit_ts = v[1];
	gp->expire_ts = expire;
	gp->leader_epoch = (int32_t)epoch;
	gp->stored = true;
	return 0;
bad:
	free(md);
	return -EBADMSG;
}

void gpart_forget(struct gpart *gp)
{
	gp->committed = GROUP_OFFSET_NONE;
	gp->stored = false;
	gp->expire_ts = -1;
	gp->leader_epoch = -1;
	free(gp->metadata);
	gp->metadata = NULL;
	gp->mdlen = 0;
}

/* One replayed record: key [klen], value [vlen]. Last one per key wins. */
static int replay_record(struct group_coord *gc, const char *key, size_t klen, const char *val,
			 size_t vlen)
{
	char topic[TOPIC_NAME_MAX + 1], name[TOPIC_NAME_MAX + 1], kbuf[600];
	const char *s1, *s2;
	struct group *g;
	int i, part = -1, rc;

	if (klen >= sizeof(kbuf))
		return -EBADMSG;
	memcpy(kbuf, key, klen);
	kbuf[klen] = '\0';
	s1 = strchr(kbuf, '/');
	if (!s1)
		return -EBADMSG;
	s2 = strchr(s1 + 1, '/');
	snprintf(name, sizeof(name), "%.*s", (int)(s1 - kbuf), kbuf);
	snprintf(topic, sizeof(topic), "%.*s", (int)((s2 ? s2 : kbuf + klen) - s1 - 1), s1 + 1);
	if (!group_name_kept(name) || !topic_name_valid(topic))
		return -EBADMSG;
	if (s2) {
		char *ep;
		long v = strtol(s2 + 1, &ep, 10);

		if (*ep || v < 0 || v > INT32_MAX - 1)
			return -EBADMSG;
		part = (int)v;
	}
	i = group_coord_find(gc, topic, name);
	if (part < 0 && vlen == 0) { /* group deleted */
		if (i >= 0 && gc->groups[i]->nmembers > 0) {
			/* A proxy with this mount's members: the group is
			 * made anew, with nothing committed. */
			g = gc->groups[i];
			for (int q = 0; q < g->nparts; q++)
				gpart_forget(&g->parts[q]);
		} else if (i >= 0) {
			g = gc->groups[i];
			group_coord_remove(gc, i, true);
			group_put(g);
		}
		return 0;
	}
	if (i < 0) {
		g = group_new(gc, topic, name);
		if (!g)
			return -ENOMEM;
		rc = group_coord_insert(gc, g);
		if (rc < 0) {
			group_put(g);
			return rc;
		}
	} else {
		g = gc->groups[i];
	}
	if (part < 0) {
		char why[200];

		struct replayed_settings rs = {
			{ &g->strategy, &g->reset_latest, &g->session_timeout_ms }, &g->idle_since
		};

		/* The last record holds the group's state: one without the
		 * field (older) leaves the time not known. */
		g->idle_since = 0;
		rc = group_settings_each(val, vlen, ' ', replay_setting, &rs, why, sizeof(why));
		return rc < 0 ? -EBADMSG : 0;
	}
	rc = group_parts_grow(g, part + 1);
	if (rc < 0)
		return rc;
	if (vlen == 0) {
		gpart_forget(&g->parts[part]);
		return 0;
	}
	return replay_commit(&g->parts[part], val, vlen);
}

/* Keeps the GroupMetadata record of a Kafka group (key [key, key +
 * klen), value [val, val + vlen), -1 a tombstone) in gc->kmeta, the last
 * one per group as compaction would. An undecodable one is logged and
 * skipped (the group keeps what its earlier records said): -EBADMSG;
 * -ENOMEM. */
static int replay_kmeta(struct group_coord *gc, int p, const char *key, int32_t klen,
			const char *val, int32_t vlen)
{
	char name[TOPIC_NAME_MAX + 1];
	struct group_meta gm;
	struct group_kmeta *k = NULL;
	int rc = group_meta_key_decode((const uint8_t *)key, klen > 0 ? (size_t)klen : 0, name,
				       sizeof(name));

	if (rc < 0) {
		mq_log_limited(MQ_WARN,
			       "%s-%d: a record whose key is neither mqfs's nor a group "
			       "metadata key (version 2): skipped",
			       GROUP_OFFSETS_TOPIC, p);
		return -EBADMSG;
	}
	if (vlen > 0) {
		rc = group_meta_value_decode((const uint8_t *)val, (size_t)vlen, &gm);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0) {
			mq_log(MQ_WARN,
			       "%s-%d: the group metadata record of Kafka group %s cannot be "
			       "decoded (%d bytes): skipped, the group is loaded as its earlier "
			       "records say",
			       GROUP_OFFSETS_TOPIC, p, name, (int)vlen);
			return -EBADMSG;
		}
		group_meta_free(&gm);
	}
	for (int i = 0; i < gc->nkmeta && !k; i++)
		if (!strcmp(gc->kmeta[i].name, name))
			k = &gc->kmeta[i];
	if (!k) {
		struct group_kmeta *nk =
			realloc(gc->kmeta, (size_t)(gc->nkmeta + 1) * sizeof(*gc->kmeta));

		if (!nk)
			return -ENOMEM;
		gc->kmeta = nk;
		k = &nk[gc->nkmeta++];
		memset(k, 0, sizeof(*k));
		snprintf(k->name, sizeof(k->name), "%s", name);
	}
	free(k->value);
	k->value = NULL;
	k->len = 0;
	if (vlen > 0) {
		k->value = malloc((size_t)vlen);
		if (!k->value)
			return -ENOMEM;
		memcpy(k->value, val, (size_t)vlen);
		k->len = (size_t)vlen;
	}
	return 0;
}

/* One line of partition p: an escaped line is a record a line cannot
 * carry as it is, here Kafka's GroupMetadata (binary key and value);
 * every other line is mqfs's "key TAB value". */
static int replay_line(struct group_coord *gc, int p, const char *line, size_t len,
		       struct line_scratch *scratch)
{
	const char *tab;

	if (len > 0 && line[0] == '\\') {
		struct rec_in r;
		int rc = group_meta_line_parse(line, len, scratch, &r);

		return rc < 0 ? rc : replay_kmeta(gc, p, r.key, r.key_len, r.value, r.value_len);
	}
	tab = memchr(line, '\t', len);
	return tab ? replay_record(gc, line, (size_t)(tab - line), tab + 1,
				   (size_t)(line + len - tab - 1))
		   : -EBADMSG;
}

/* Reads every record of partition p of __consumer_offsets into
 * gc->groups (and gc->kmeta), counting them (and the malformed ones) in
 * *records and *bad. *buf (*cap bytes) grows for a line longer than it,
 * up to REPLAY_LINE_MAX (a group metadata record of a big group). */
static int replay_part(struct group_coord *gc, int p, char **buf, size_t *cap, int *records,
		       int *bad)
{
	struct line_scratch scratch = { 0 };
	struct log_cursor *c = NULL;
	int64_t pos = 0, actual;
	size_t have = 0;
	int rc = topic_cursor_new(gc->offsets, p, &c);

	if (rc < 0)
		return rc;
	for (;;) {
		ssize_t n;
		char *line, *nl, *end;

		if (have == *cap) {
			char *nb = *cap < REPLAY_LINE_MAX ? realloc(*buf, *cap * 2 + 1) : NULL;

			if (!nb) {
				rc = *cap < REPLAY_LINE_MAX ? -ENOMEM : -EBADMSG;
				break;
			}
			*buf = nb;
			*cap *= 2;
		}
		n = group_read_lines(gc->offsets, p, c, pos, *buf + have, *cap - have, &actual);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0)
			break;
		pos = actual + n;
		line = *buf;
		end = *buf + have + n;
		while ((nl = memchr(line, '\n', (size_t)(end - line)))) {
			int r = replay_line(gc, p, line, (size_t)(nl - line), &scratch);

			if (r == -ENOMEM) {
				rc = r;
				break;
			}
			*bad += r < 0;
			(*records)++;
			line = nl + 1;
		}
		if (rc < 0)
			break;
		have = (size_t)(end - line);
		memmove(*buf, line, have);
	}
	line_scratch_free(&scratch);
	topic_cursor_free(gc->offsets, p, c);
	return rc;
}

void group_kmeta_free(struct group_kmeta *recs, int n)
{
	for (int i = 0; i < n; i++)
		free(recs[i].value);
	free(recs);
}

void group_store_kmeta_deliver(struct group_coord *gc)
{
	if (!gc->kafka_load || !gc->nkmeta)
		return;
	gc->kafka_load(gc->kafka_arg, gc->kmeta, gc->nkmeta);
	group_kmeta_free(gc->kmeta, gc->nkmeta);
	gc->kmeta = NULL;
	gc->nkmeta = 0;
}

/* Replays partition p (-1: every partition) of __consumer_offsets. */
int group_store_replay(struct group_coord *gc, int p)
{
	size_t cap = REPLAY_CHUNK;
	char *buf = malloc(cap + 1);
	int rc = 0, bad = 0, records = 0, n0 = gc->ngroups;

	if (!buf)
		return -ENOMEM;
	for (int q = p < 0 ? 0 : p; q < (p < 0 ? topic_partitions(gc->offsets) : p + 1) && rc == 0;
	     q++)
		rc = replay_part(gc, q, &buf, &cap, &records, &bad);
	free(buf);
	if (bad)
		mq_log(MQ_WARN, "%s: %d malformed records skipped", GROUP_OFFSETS_TOPIC, bad);
	if (rc == 0 && p < 0)
		mq_log(MQ_INFO, "%s: %d records replayed, %d groups, %d Kafka groups' metadata",
		       GROUP_OFFSETS_TOPIC, records, gc->ngroups, gc->nkmeta);
	else if (rc == 0)
		mq_log(MQ_INFO,
		       "%s-%d: %d records replayed, %d groups loaded, %d Kafka groups' metadata",
		       GROUP_OFFSETS_TOPIC, p, records, gc->ngroups - n0, gc->nkmeta);
	if (rc == 0)
		group_store_kmeta_deliver(gc);
	else {
		group_kmeta_free(gc->kmeta, gc->nkmeta);
		gc->kmeta = NULL;
		gc->nkmeta = 0;
	}
	return rc;
}

int group_store_kafka(struct group_coord *gc, const char *group, const uint8_t *val, size_t vlen)
{
	struct kbuf_w w;
	char *line;
	size_t len;
	int rc;

	kbuf_w_init(&w, 2 + 2 + TOPIC_NAME_MAX);
	group_meta_key_encode(&w, group);
	rc = kbuf_w_err(&w);
	line = rc ? NULL : group_meta_line(w.buf, w.len, val, vlen, &len);
	if (!rc && !line)
		rc = -ENOMEM;
	if (line)
		rc = group_store_append(gc, group, line, len);
	free(line);
	kbuf_w_free(&w);
	return rc;
}

/* Kafka's expireTimestamp of a commit at now with retention_time_ms ret
 * (not -1): now + ret, any other value taken as given; a time already
 * past (a negative sum too) expires at the next check. Kept >= 0 (-1 is
 * "none") and from overflowing. */
static int64_t group_expire_at(int64_t now, int64_t ret)
{
	if (ret > 0 && now > INT64_MAX - ret)
		return INT64_MAX;
	return now + ret < 0 ? 0 : now + ret;
}

int group_store_commits(struct group *g, const struct group_commit *c, int n, const char *member)
{
	size_t mlen = strlen(member), cap = 1, len = 0;
	int64_t now = engine_now_ms();
	char *text, **mds;
	int rc;

	for (int i = 0; i < n; i++)
		cap += 640 + 3 * mlen + 96 + 3 * (c[i].metadata ? c[i].mdlen : 0);
	text = malloc(cap);
	mds = calloc((size_t)n + 1, sizeof(*mds));
	if (!text || !mds) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		int64_t ts = c[i].commit_ts == -1 ? now : c[i].commit_ts;

		len += (size_t)sprintf(text + len, "%s/%s/%d\t%" PRId64 " %" PRId64 " ", g->name,
				       g->topic, c[i].part, c[i].offset, ts);
		len += escape_field(text + len, member, mlen);
		if (c[i].retention_ms != -1)
			len += (size_t)sprintf(text + len, " expire.ms=%" PRId64,
					       group_expire_at(now, c[i].retention_ms));
		if (c[i].leader_epoch != -1)
			len += (size_t)sprintf(text + len, " epoch=%" PRId32, c[i].leader_epoch);
		if (c[i].metadata && c[i].mdlen > 0) {
			/* copied now: nothing fails once the record is in */
			mds[i] = malloc(c[i].mdlen + 1);
			if (!mds[i]) {
				rc = -ENOMEM;
				goto out;
			}
			memcpy(mds[i], c[i].metadata, c[i].mdlen);
			mds[i][c[i].mdlen] = '\0';
			len += (size_t)sprintf(text + len, " metadata=");
			len += escape_field(text + len, c[i].metadata, c[i].mdlen);
		}
		text[len++] = '\n';
	}
	rc = group_store_append(g->gc, g->name, text, len);
	for (int i = 0; rc == 0 && i < n; i++) {
		struct gpart *gp = &g->parts[c[i].part];

		gp->committed = c[i].offset;
		gp->commit_ts = c[i].commit_ts == -1 ? now : c[i].commit_ts;
		gp->expire_ts =
			c[i].retention_ms == -1 ? -1 : group_expire_at(now, c[i].retention_ms);
		gp->leader_epoch = c[i].leader_epoch;
		gp->stored = true;
		free(gp->metadata);
		gp->metadata = mds[i];
		gp->mdlen = mds[i] ? c[i].mdlen : 0;
		mds[i] = NULL;
	}
out:
	for (int i = 0; mds && i < n; i++)
		free(mds[i]);
	free(mds);
	free(text);
	return rc;
}

int group_store_commit(struct group *g, const int *parts, const int64_t *offs,
		       const int32_t *epochs, int n, const char *member)
{
	struct group_commit *c = malloc((size_t)n * sizeof(*c) + 1);
	int rc;

	if (!c)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		c[i] = (struct group_commit){
			.part = parts[i],
			.offset = offs[i],
			.leader_epoch = epochs ? epochs[i] : -1,
			.commit_ts = -1,
			.retention_ms = -1,
		};
	rc = group_store_commits(g, c, n, member);
	free(c);
	return rc;
}

/* The tombstone of g's committed offset of partition p into text at
 * *len (room for it: 600 bytes); p -1: of g itself. */
static void tombstone_line(const struct group *g, int p, char *text, size_t *len)
{
	if (p >= 0)
		*len += (size_t)sprintf(text + *len, "%s/%s/%d\t\n", g->name, g->topic, p);
	else
		*len += (size_t)sprintf(text + *len, "%s/%s\t\n", g->name, g->topic);
}

int group_store_offsets_delete(struct group *g, const int *parts, int n)
{
	char *text = malloc((size_t)n * 600 + 1);
	size_t len = 0;
	int rc = 0, k = 0;

	if (!text)
		return -ENOMEM;
	/* A partition without a kept offset has no record to remove (Kafka's
	 * removeOffsets skips it). */
	for (int i = 0; i < n; i++)
		if (parts[i] >= 0 && parts[i] < g->nparts && g->parts[parts[i]].stored) {
			tombstone_line(g, parts[i], text, &len);
			k++;
		}
	if (k > 0)
		rc = group_store_append(g->gc, g->name, text, len);
	free(text);
	if (rc < 0)
		return rc;
	/* Memory changes once the tombstones are in: the partition reads as
	 * one never committed (GROUP_OFFSET_NONE), as a replay finds it. */
	for (int i = 0; i < n; i++)
		if (parts[i] >= 0 && parts[i] < g->nparts)
			gpart_forget(&g->parts[parts[i]]);
	return k;
}

/* Writes tombstones for g's committed offsets and for g itself into
 * __consumer_offsets (replay then forgets them; compaction removes them).
 * Needs g->mu. */
int group_store_tombstones(struct group *g)
{
	size_t len = 0;
	char *text = malloc((size_t)(g->nparts + 1) * 600);
	int rc;

	if (!text)
		return -ENOMEM;
	/* Every kept offset, negative ones too (as Kafka's deleteAllOffsets
	 * tombstones its whole offsets map): compaction removes the group's
	 * own tombstone in time, and an offset record left would make the
	 * group again at replay. */
	for (int p = 0; p < g->nparts; p++)
		if (g->parts[p].stored)
			tombstone_line(g, p, text, &len);
	tombstone_line(g, -1, text, &len);
	rc = group_store_append(g->gc, g->name, text, len);
	free(text);
	return rc;
}

/* The settings of __consumer_offsets: records keyed by TAB, compacted
 * when the broker knows that key, and committed before a commit answers
 * (acks=all, whatever the broker's default acks). Into tc, over the
 * broker's defaults. */
int group_store_topic_config(struct broker *b, struct topic_config *tc)
{
	static const char cfg[] = "key.separator=\\t\nacks=all\n";
	static const char compact[] = "cleanup.policy=compact\n";
	char err[128];
	int rc;

	catalog_default_config(b, tc);
	rc = topic_config_apply(tc, cfg, sizeof(cfg) - 1, err, sizeof(err));
	if (rc == 0)
		(void)topic_config_apply(tc, compact, sizeof(compact) - 1, err, sizeof(err));
	return rc;
}

int group_store_open(struct group_coord *gc)
{
	struct broker *b = gc->b;
	int rc;

	/* In a cluster __consumer_offsets is replicated: made in ZooKeeper
	 * when first needed, each partition's groups loaded by its leader
	 * (offsets_topic.c). */
	if (gc->cluster)
		return 0;
	rc = broker_topic_get(b, GROUP_OFFSETS_TOPIC, &gc->offsets);
	if (rc == -ENOENT) {
		struct topic_config tc;

		/* Made with its settings at once (a stop between its creation
		 * and a later settings change would leave it for good without
		 * its key.separator), and with one partition: num.partitions
		 * is the partitions of a topic made by mkdir, not of this one
		 * (with num.partitions=10000 a new data directory needed
		 * 40,000 descriptors for it and the start failed; Kafka makes
		 * it with offsets.topic.num.partitions, a cluster's setting
		 * here, where its partitions spread the groups' coordinators
		 * over the brokers). */
		rc = group_store_topic_config(b, &tc);
		tc.partitions = 1;
		if (rc == 0)
			rc = broker_topic_create_cfg(b, GROUP_OFFSETS_TOPIC, 0, 0, 0600, &tc, -1,
						     b->cfg.request_timeout_ms, &gc->offsets);
	}
	return rc == 0 ? group_store_replay(gc, -1) : rc;
}
