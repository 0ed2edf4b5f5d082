/*
 * group_meta.h — private to repl/: Kafka's GroupMetadata record of
 * __consumer_offsets (the members of a Kafka consumer group, what a new
 * coordinator loads to keep them), its codec and its line in the topic's
 * line view. The layout is group_meta.c's top comment.
 */
#ifndef MQFS_REPL_GROUP_META_H
#define MQFS_REPL_GROUP_META_H

#include <stddef.h>
#include <stdint.h>

#include "repl/kbuf.h"

/* The version written (GroupMetadataValue 3: group.instance.id kept). */
#define GROUP_META_VERSION 3

struct group_meta_member {
	struct kstr member_id;
	struct kstr instance_id; /* null: a dynamic member (or a version < 3) */
	struct kstr client_id, client_host;
	int32_t rebalance_timeout; /* ms; a version 0 record: the session timeout */
	int32_t session_timeout;   /* ms */
	struct kstr subscription;  /* the member's metadata of the group's protocol */
	struct kstr assignment;    /* what the leader assigned it */
};

struct group_meta {
	struct kstr protocol_type;
	int32_t generation;
	struct kstr protocol, leader;    /* null when the group is Empty */
	int64_t current_state_timestamp; /* ms since the epoch; -1 before version 2 */
	int32_t n_members;
	struct group_meta_member *members;
};

/* GroupMetadataKey of group (version 2) into w. */
void group_meta_key_encode(struct kbuf_w *w, const char *group);
/* The group of a key, into group (cap bytes, NUL-terminated): 0;
 * -ENOENT for a key of another version (an offset commit, 0 or 1);
 * -EBADMSG for bytes that are no key, or a group that does not fit. */
int group_meta_key_decode(const uint8_t *p, size_t len, char *group, size_t cap);
/* The value of gm, version GROUP_META_VERSION, into w. */
void group_meta_value_encode(struct kbuf_w *w, const struct group_meta *gm);
/* A value of any version 0..3 into *gm, pointing into [p, p + len) (which
 * must outlive it; gm->members is malloc'ed: group_meta_free): 0, -EBADMSG
 * (not a whole value of a known version), -ENOMEM. */
int group_meta_value_decode(const uint8_t *p, size_t len, struct group_meta *gm);
void group_meta_free(struct group_meta *gm);
/* The record key -> value (vlen 0: a tombstone) as an escaped line of
 * __consumer_offsets' line view (key.separator TAB, line.format escape),
 * "\n" included, malloc'ed, its length in *out_len; NULL: -ENOMEM. */
char *group_meta_line(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
		      size_t *out_len);
/* The record of such a line [line, line + len) (its backslash included,
 * its newline not) into *r, key and value in scratch (line_scratch_free
 * after): 0, -EBADMSG (no key, or a record over 2 GiB), -ENOMEM. */
struct line_scratch;
struct rec_in;
int group_meta_line_parse(const char *line, size_t len, struct line_scratch *scratch,
			  struct rec_in *r);

#endif
