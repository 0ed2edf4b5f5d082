/*
 * group_serve_int.h — private to group_serve.c (membership: FindCoordinator,
 * JoinGroup, SyncGroup, Heartbeat, LeaveGroup, the session timer) and
 * group_serve_offsets.c (OffsetCommit, OffsetFetch): the Kafka groups'
 * state and the checks both make. Rules and lock order: group_serve.c.
 */
#ifndef MQFS_REPL_GROUP_SERVE_INT_H
#define MQFS_REPL_GROUP_SERVE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "repl/group_int.h"
#include "repl/group_serve.h"

#define KG_MAX_MEMBERS     1000
#define KG_MAX_ALL         10000 /* members of all groups */
/* Members' protocol metadata (and, apart, the leader's assignments) of one
 * group: the leader's JoinGroup answer carries all of it and must fit
 * socket.response.max.bytes (1 MiB by default). */
#define KG_GROUP_BYTES     (512 * 1024)
#define KG_ALL_BYTES       (64 * 1024 * 1024) /* metadata and assignments held */
#define KG_ID_MAX          200
/* A member's client.id as DescribeGroups gives it back (the request
 * header's; a longer one is cut here, so a member's size stays fixed),
 * and its host, "/" and the peer's address, as Kafka writes it. */
#define KG_CLIENT_ID_MAX   255
#define KG_CLIENT_HOST_MAX 64
#define KG_NAME_MAX        255
#define KG_TICK_MAX_MS     1000
/* Kafka's GroupCoordinator.NewMemberJoinTimeoutMs: how long a member
 * that has not been in a generation yet may wait in a rebalance. */
#define KG_NEW_MEMBER_MS   (5 * 60 * 1000)

enum kg_state { KG_EMPTY, KG_PREPARING, KG_AWAIT_SYNC, KG_STABLE };

struct kproto {
	char name[KG_NAME_MAX + 1];
	uint8_t *meta;
	int32_t len;
};

struct kmember {
	char id[KG_ID_MAX + 1];
	char client_id[KG_CLIENT_ID_MAX + 1];     /* of the JoinGroup that made it */
	char client_host[KG_CLIENT_HOST_MAX + 1]; /* "/127.0.0.1" */
	/* group.instance.id of a static member, "" for a dynamic one. */
	char instance_id[KG_ID_MAX + 1];
	int32_t session_ms, rebalance_ms;
	int64_t last_heard; /* monotonic ms */
	int nprotos;
	struct kproto *protos;
	struct net_req *join; /* parked JoinGroup */
	struct net_req *sync; /* parked SyncGroup */
	/* Kafka's pendingSyncMembers: got this generation's JoinGroup
	 * answer and has sent no SyncGroup since (kg_sync_expire). */
	bool pending_sync;
	/* Kafka's MemberMetadata.isNew: monotonic ms by which a member
	 * that joined no generation yet is removed, its JoinGroup parked
	 * or not (its session does not count meanwhile); 0 once a JoinGroup
	 * round it was in completed. */
	int64_t new_until;
	uint8_t *asg;
	int32_t asg_len;
	struct kmember *next;
};

/* Kafka's pending member (KIP-394): a member id handed out with
 * MEMBER_ID_REQUIRED, which the client's next JoinGroup brings back to
 * become a member; forgotten after its session timeout. */
struct kpending {
	char id[KG_ID_MAX + 1];
	int64_t expires; /* monotonic ms */
	struct kpending *next;
};

struct kgroup {
	struct group_serve *gs;
	char name[TOPIC_NAME_MAX + 1];
	enum kg_state state;
	int32_t generation;
	char ptype[KG_NAME_MAX + 1];
	char proto[KG_NAME_MAX + 1];
	char leader[KG_ID_MAX + 1];
	struct kmember *members; /* join order */
	int nmembers;
	struct kpending *pending; /* KIP-394's pending members */
	int64_t meta_bytes;       /* members' protocol metadata */
	int64_t deadline;         /* of the rebalance (PreparingRebalance) */
	/* Kafka's InitialDelayedJoin: the rebalance from Empty waits out
	 * group.initial.rebalance.delay.ms (deadline) even when every
	 * member joined, again while new members come (new_member_added),
	 * initial_left ms of the rebalance timeout at the most. */
	bool initial_delay;
	bool new_member_added;
	int64_t initial_left;
	/* Kafka's DelayedSync: monotonic ms by which every member of this
	 * generation must have sent its SyncGroup (set when JoinGroup
	 * completes, the group's rebalance timeout on; 0: none due). */
	int64_t sync_deadline;
	/* Wall ms (engine_now_ms) when it last became Empty, kept in its
	 * Empty record (current_state_timestamp) and loaded from it; 0: not
	 * known (it never was Empty here, or an old record): its offsets
	 * then expire by their commit times (kg_expire_offsets). */
	int64_t empty_since;
	/* The leader's SyncGroup is writing the generation's metadata
	 * record (gs->mu released meanwhile): the rebalance timeout waits
	 * for it. */
	bool storing;
	struct kgroup *next;
};

struct kwrite {
	char name[TOPIC_NAME_MAX + 1];
	uint8_t *value; /* GroupMetadataValue; NULL: the group's tombstone */
	size_t len;
	uint64_t seq; /* its place among the group's records (kg_ticket) */
	struct kwrite *next;
};

/* The order of one group name's GroupMetadata records (kg_ticket,
 * kg_write): kept while any of its records is not yet written or
 * dropped, so that one made earlier, still queued, finds that a newer
 * one went first. */
struct kseq {
	char name[TOPIC_NAME_MAX + 1];
	uint64_t last; /* the newest record whose append was started */
	int last_rc;   /* that append's result */
	int pending;   /* tickets not yet written or dropped */
	bool writing;  /* an append of the group's is in flight */
	int waiting;   /* appends of the group waiting for that one */
	struct kseq *next;
};

struct group_serve {
	struct kafka_api *ka;
	struct group_coord *gc;
	pthread_mutex_t mu;
	/* Monotonic ms the timer thread sleeps to (group_timer_sleep), 0
	 * while it is awake: whoever sets a deadline sooner wakes it
	 * (kg_timer_at). Under mu. */
	int64_t wake_at;
	/* The length of the timer's last sleep in ms, -1 without a
	 * deadline; its sleeps: tests wait for it to be asleep. */
	_Atomic int64_t sleep_ms;
	atomic_uint sleeps;
	struct kgroup *groups;
	int members;   /* of all groups */
	int npending;  /* pending members of all groups */
	int64_t bytes; /* metadata and assignments of all members */
	uint64_t seq;
	/* Metadata records of groups that became Empty, and tombstones of
	 * the Empty groups the cleanup removed, for the timer thread to write
	 * (the append blocks; gs->mu may not be held across it). */
	struct kwrite *writes;
	/* Every record of a group is numbered from wseq when it is made
	 * (under mu, so in the order of the group's states); kseqs keeps the
	 * appends of one group one at a time and in that order, store_cv
	 * (under mu) wakes the next. */
	uint64_t wseq;
	struct kseq *kseqs;
	pthread_cond_t store_cv;
	/* Monotonic ms of the next cleanup of Empty groups without offsets
	 * (offsets.retention.check.interval.ms apart); the timer thread's
	 * own. */
	int64_t cleanup_at;
	/* Cleanups (offsets expiry included) done: tests wait for the next
	 * one instead of sleeping. */
	atomic_uint cleanups;
	/* Tests only: called with no lock held right before each
	 * GroupMetadata append of kg_write (value NULL: a tombstone). */
	void (*store_hook)(void *arg, const char *name, const uint8_t *value, size_t len);
	void *store_hook_arg;
	/* KG_NEW_MEMBER_MS; tests set it shorter (under mu). */
	int32_t new_member_ms;
	atomic_bool stop; /* set under mu; group_check reads it without */
	bool running;
	bool hooked;
	pthread_t th;
};

/* Frees g, unlinked, with its pending members (it has no members).
 * Needs gs->mu. */
void kg_group_free(struct kgroup *g);
/* A deadline of the Kafka groups (a session, a rebalance, a pending
 * member) set at monotonic ms due: the timer thread is woken when it
 * sleeps past it. Needs gs->mu. */
void kg_timer_at(struct group_serve *gs, int64_t due);
/* Wakes the timer thread, unless stopped. Needs gs->mu. */
void kg_timer_kick(struct group_serve *gs);
/* The Kafka group of that name, or NULL. Needs gs->mu. */
struct kgroup *kg_find(struct group_serve *gs, const char *name);
/* Its member of that id, or NULL (g may be NULL). Needs gs->mu. */
struct kmember *kg_member(struct kgroup *g, struct kstr id);
/* Kafka's GroupMetadata.isSubscribedToTopic: whether a member of g
 * subscribes to topic, read from the version 0 prefix of each member's
 * metadata of the protocol the group chose (computeSubscribedTopics);
 * true whenever that cannot be known: a protocol type other than
 * "consumer", no protocol chosen yet, metadata that does not parse. A
 * "consumer" group without members subscribes to nothing. Needs gs->mu. */
bool kg_subscribes(const struct kgroup *g, struct kstr topic);
/* True when s equals the C string c. */
bool kg_kstr_is(struct kstr s, const char *c);
/* Kafka's checks before any group request: the id can be the mount's
 * group name (copied into name, TOPIC_NAME_MAX + 1 bytes; for
 * FindCoordinator, OffsetFetch and OffsetCommit also "<topic>/<group>",
 * name its group part), the server is not stopping, this broker coordinates it. NONE or
 * the error (logged). */
int16_t kg_check(struct group_serve *gs, struct net_req *req, struct kstr id, char *name,
		 const char *api);
/* Whether api takes the empty group id "", as Kafka's
 * GroupCoordinator.isValidGroupId: OffsetCommit and OffsetFetch (the
 * group of simple consumers, which commit outside any group management),
 * DescribeGroups and DeleteGroups (to see and delete that group), and
 * FindCoordinator (which checks no name); a group that Kafka coordinates
 * (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) or OffsetDelete refuses
 * it with INVALID_GROUP_ID. */
bool kg_empty_id_ok(const char *api);
/* The member is known (then heard from now), of this generation, and
 * instance (a static member's group.instance.id, or null) is no other
 * member's; NONE or FENCED_INSTANCE_ID / UNKNOWN_MEMBER_ID /
 * ILLEGAL_GENERATION (logged). Needs gs->mu. */
int16_t kg_member_check(struct kgroup *g, struct kmember *mem, struct kstr instance,
			int32_t generation, const char *api, const char *peer, const char *name);

/* group_admin_serve.c: registers DescribeGroups, DeleteGroups and
 * OffsetDelete. */
int group_admin_serve_register(struct group_serve *gs, struct net_server *srv);
/* The name check (group_scoped_name: INVALID_GROUP_ID) and the
 * coordinator check (group_admin_coord_check) of one group id of the
 * admin APIs, into topic and name: NONE or Kafka's code, logged with api
 * and peer. No lock held. */
int16_t group_admin_id_check(struct group_coord *gc, struct kstr id, char *topic, char *name,
			     const char *api, const char *peer);
/* Whether g is one of the groups an admin id names (topic "": every
 * topic's group name), a proxy never. Needs coord.mu. */
bool group_admin_named(const struct group *g, const char *topic, const char *name);

/* group_offset_delete.c: registers OffsetDelete. */
int group_offset_delete_register(struct group_serve *gs, struct net_server *srv);
/* DeleteGroups of one group (topic "": every topic's, and Kafka's group
 * of that name, Empty included): Kafka's code, logged. Takes coord.mu,
 * group.mu and gs->mu. */
int16_t group_admin_delete(struct group_serve *gs, const char *topic, const char *name,
			   const char *peer);
/* What a described group points into until it is sent. */
struct gdesc_hold {
	char state[32];
	char proto[KG_NAME_MAX + 1];
	char ptype[KG_NAME_MAX + 1];
	int nbufs;
	void **bufs; /* member ids, metadata, assignments, the members */
};
/* DescribeGroups of one group (topic "": every topic's, or the Kafka
 * consumers' group): fills d (zeroed but for group_id), pointing into
 * hold (zeroed; gdesc_hold_free after). 0 or -ENOMEM. */
struct proto_described_group;
int group_admin_describe(struct group_serve *gs, const char *topic, const char *name,
			 struct proto_described_group *d, struct gdesc_hold *hold);
void gdesc_hold_free(struct gdesc_hold *h);

/* group_list_serve.c: registers ListGroups. */
/* Kafka's name of a group state: "Empty", "Stable", ... */
const char *kg_state_name(enum kg_state s);
int group_list_serve_register(struct group_serve *gs, struct net_server *srv);

/* group_serve.c: frees a member that is in no group's list (its
 * protocols, its assignment); the loaded records' members too. */
void kg_member_free(struct kmember *m);
/* DeleteGroups of Kafka's group name: -EBUSY while it has members; else
 * it goes (Dead) if this broker has it, and its tombstone is written
 * after its other records (kg_write): 0 or the append's error. Takes
 * gs->mu; no lock held. */
int kg_delete(struct group_serve *gs, const char *name);

/* Kafka's onGroupLoaded: g, just loaded Stable from its record, with
 * more members than group.max.size (lowered since it was written)
 * rebalances. Needs gs->mu. */
void kg_loaded(struct group_serve *gs, struct kgroup *g);

/* group_serve_meta.c: the groups' GroupMetadata records. */
/* g's GroupMetadataValue into w, each member's assignment from the
 * leader's SyncGroup req (NULL: the members' own). 0 or w's error. Needs
 * gs->mu. */
struct proto_sync_req;
int kg_meta_value(const struct kgroup *g, const struct proto_sync_req *req, struct kbuf_w *w);
/* A record of group name is made now: its number (> 0) among the
 * group's records, or 0 when out of memory (logged; the record is then
 * not written). Each ticket ends in one kg_write or kg_ticket_drop.
 * Needs gs->mu. */
uint64_t kg_ticket(struct group_serve *gs, const char *name);
/* Ends ticket seq of name without writing its record. Needs gs->mu. */
void kg_ticket_drop(struct group_serve *gs, const char *name);
/* Appends record seq of group name (value NULL, len 0: its tombstone)
 * once no other append of the group is in flight, releasing gs->mu
 * meanwhile; a record older than one whose append already started is
 * not appended (the newer holds the group's later state): the newer
 * one's result is returned then. So the group's records reach the log in
 * the order they were made. 0 or group_store_kafka's error. Needs gs->mu
 * (held again on return). */
int kg_write(struct group_serve *gs, const char *name, uint64_t seq, const uint8_t *value,
	     size_t len);
/* Queues g's Empty record (it has no members now) for the timer thread.
 * Needs gs->mu. */
void kg_queue_empty(struct kgroup *g);
/* Queues the tombstone of group name (removed from gs->groups by the
 * cleanup) for the timer thread. Needs gs->mu. */
void kg_queue_tombstone(struct group_serve *gs, const char *name);
/* Writes the queued records, oldest first, and frees them. Needs gs->mu
 * (released during each append). */
void kg_writes_flush(struct group_serve *gs);
/* The coordinator's kafka_load hook. */
void kg_meta_load(void *arg, const struct group_kmeta *recs, int n);

/* group_serve_offsets.c: registers OffsetCommit and OffsetFetch. */
int group_serve_offsets_register(struct group_serve *gs, struct net_server *srv);
/* Kafka's error for a record __consumer_offsets did not take (rc of
 * group_store_append): NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT,
 * NOT_COORDINATOR or KAFKA_STORAGE_ERROR. */
int16_t kg_store_error(int rc);

#endif
