/*
 * replica_select.c — Kafka's replica selectors and its leader's choice
 * of a preferred read replica (replica_select.h).
 */
#include <errno.h>
#include <string.h>

#include "repl/replica_select.h"

int replica_selector_parse(const char *name, enum replica_selector *out)
{
	if (!name[0])
		*out = REPLICA_SELECTOR_NONE;
	else if (!strcmp(name, REPLICA_SELECTOR_LEADER_CLASS))
		*out = REPLICA_SELECTOR_LEADER;
	else if (!strcmp(name, REPLICA_SELECTOR_RACK_CLASS))
		*out = REPLICA_SELECTOR_RACK_AWARE;
	else
		return -EINVAL;
	return 0;
}

const char *replica_selector_name(enum replica_selector s)
{
	return s == REPLICA_SELECTOR_LEADER       ? REPLICA_SELECTOR_LEADER_CLASS
	       : s == REPLICA_SELECTOR_RACK_AWARE ? REPLICA_SELECTOR_RACK_CLASS
						  : "";
}

static bool in_rack(const struct replica_view *r, struct kstr rack)
{
	return r->rack && strlen(r->rack) == (size_t)rack.len &&
	       !memcmp(r->rack, rack.ptr, (size_t)rack.len);
}

/* Kafka's ReplicaView.comparator: a above b. */
static bool view_above(const struct replica_view *a, const struct replica_view *b)
{
	if (a->log_end_offset != b->log_end_offset)
		return a->log_end_offset > b->log_end_offset;
	if (a->since_caught_up_ms != b->since_caught_up_ms)
		return a->since_caught_up_ms < b->since_caught_up_ms;
	return a->id > b->id;
}

int replica_select(enum replica_selector s, struct kstr client_rack, const struct replica_view *v,
		   int n, int leader)
{
	int best = -1;

	if (s == REPLICA_SELECTOR_NONE)
		return -1;
	if (s == REPLICA_SELECTOR_LEADER || client_rack.len <= 0 || !client_rack.ptr)
		return leader;
	if (in_rack(&v[leader], client_rack))
		return leader;
	for (int i = 0; i < n; i++)
		if (in_rack(&v[i], client_rack) && (best < 0 || view_above(&v[i], &v[best])))
			best = i;
	return best < 0 ? leader : best;
}

static bool isr_has(const struct partition_info *info, int32_t id)
{
	for (int i = 0; i < info->n_isr; i++)
		if (info->isr[i] == id)
			return true;
	return false;
}

int32_t replica_preferred_read(enum replica_selector s, struct kstr client_rack,
			       const struct partition_info *info, int64_t fetch_offset,
			       int64_t now_ms, replica_rack_fn rack, void *arg, int listener)
{
	struct replica_view v[PARTITION_MAX_REPLICAS + 1];
	char racks[PARTITION_MAX_REPLICAS + 1][256];
	int n = 0, pick;

	if (s == REPLICA_SELECTOR_NONE || info->role != PARTITION_LEADER)
		return -1;
	for (int i = 0; i < info->n_followers && n < PARTITION_MAX_REPLICAS; i++) {
		const struct partition_replica *r = &info->followers[i];

		/* Kafka leaves out the replicas outside the ISR: a lagging
		 * follower chosen again at every metadata refresh would keep
		 * its consumer behind for good. */
		if (!isr_has(info, r->broker_id) || r->log_end_offset < fetch_offset ||
		    r->log_start_offset > fetch_offset)
			continue;
		v[n] = (struct replica_view){ r->broker_id, false, NULL, r->log_end_offset,
					      now_ms - r->last_caught_up_ms };
		n++;
	}
	v[n] = (struct replica_view){ info->leader, false, NULL, info->offsets.log_end_offset, 0 };
	for (int i = 0; i <= n; i++) {
		racks[i][0] = '\0';
		v[i].endpoint = rack(arg, v[i].id, listener, racks[i], sizeof(racks[i]));
		v[i].rack = v[i].endpoint && racks[i][0] ? racks[i] : NULL;
	}
	pick = replica_select(s, client_rack, v, n + 1, n);
	return pick < 0 || pick == n || !v[pick].endpoint ? -1 : v[pick].id;
}
