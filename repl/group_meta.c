/*
 * group_meta.c — Kafka's GroupMetadata record of __consumer_offsets: the
 * members of a Kafka consumer group (ids, protocols, assignments), which
 * the coordinator writes when a generation's SyncGroup completes and a new
 * coordinator loads, so that the members go on with their member ids and
 * generation instead of joining again (Kafka's GroupMetadataManager
 * storeGroup and loadGroupsAndOffsets).
 *
 * The record, as Kafka lays it out (all integers big-endian; STRING is an
 * INT16 length and the bytes, NULLABLE_STRING length -1 for null, BYTES an
 * INT32 length and the bytes; no tagged fields in these versions):
 *
 *   key   INT16 version = 2 (versions 0 and 1 are offset commits' keys)
 *         STRING group
 *   value INT16 version 0..3, then
 *         STRING protocol_type            ("consumer")
 *         INT32 generation
 *         NULLABLE_STRING protocol        (the assignor; null when Empty)
 *         NULLABLE_STRING leader          (member id; null when Empty)
 *         INT64 current_state_timestamp   (version 2+)
 *         INT32 count, then per member:
 *           STRING member_id
 *           NULLABLE_STRING group_instance_id  (version 3+)
 *           STRING client_id
 *           STRING client_host
 *           INT32 rebalance_timeout       (version 1+)
 *           INT32 session_timeout
 *           BYTES subscription            (its metadata of the protocol)
 *           BYTES assignment
 *   an empty (null) value: a tombstone, the group is deleted.
 *
 * Written at version 3; read at 0..3, every field checked against the
 * bytes left and the whole value consumed (kbuf's reader), so a damaged
 * record is -EBADMSG and nothing of it is used.
 *
 * In __consumer_offsets' line view (key.separator TAB) such a record is an
 * escaped line: a backslash, the key, TAB, the value, every byte of key
 * and value below 0x20, 0x7f and the backslash escaped (\xHH, \\), so the
 * produce path takes the line back as exactly these bytes, and the replay
 * (group_store.c) reads it back with group_meta_line_parse, the engine's
 * unescaper with the same rules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "repl/group_meta.h"

#define KEY_VERSION 2

void group_meta_key_encode(struct kbuf_w *w, const char *group)
{
	kbuf_write_i16(w, KEY_VERSION);
	kbuf_write_string(w, kstr_of(group), false, false);
}

int group_meta_key_decode(const uint8_t *p, size_t len, char *group, size_t cap)
{
	struct kbuf_r r;
	struct kstr g;
	int16_t v;

	kbuf_r_init(&r, p, len);
	v = kbuf_read_i16(&r);
	if (kbuf_r_err(&r))
		return -EBADMSG;
	if (v == 0 || v == 1)
		return -ENOENT;
	if (v != KEY_VERSION)
		return -EBADMSG;
	g = kbuf_read_str(&r);
	if (kbuf_r_done(&r) < 0 || g.len <= 0 || (size_t)g.len >= cap)
		return -EBADMSG;
	memcpy(group, g.ptr, (size_t)g.len);
	group[g.len] = '\0';
	return 0;
}

void group_meta_value_encode(struct kbuf_w *w, const struct group_meta *gm)
{
	kbuf_write_i16(w, GROUP_META_VERSION);
	kbuf_write_string(w, gm->protocol_type, false, false);
	kbuf_write_i32(w, gm->generation);
	kbuf_write_string(w, gm->protocol, false, true);
	kbuf_write_string(w, gm->leader, false, true);
	kbuf_write_i64(w, gm->current_state_timestamp);
	kbuf_write_array_len(w, gm->n_members, false);
	for (int32_t i = 0; i < gm->n_members; i++) {
		const struct group_meta_member *m = &gm->members[i];

		kbuf_write_string(w, m->member_id, false, false);
		kbuf_write_string(w, m->instance_id, false, true);
		kbuf_write_string(w, m->client_id, false, false);
		kbuf_write_string(w, m->client_host, false, false);
		kbuf_write_i32(w, m->rebalance_timeout);
		kbuf_write_i32(w, m->session_timeout);
		kbuf_write_bytes(w, m->subscription, false, false);
		kbuf_write_bytes(w, m->assignment, false, false);
	}
}

int group_meta_value_decode(const uint8_t *p, size_t len, struct group_meta *gm)
{
	struct kbuf_r r;
	int16_t v;
	int32_t n;

	memset(gm, 0, sizeof(*gm));
	kbuf_r_init(&r, p, len);
	v = kbuf_read_i16(&r);
	if (kbuf_r_err(&r) || v < 0 || v > GROUP_META_VERSION)
		return -EBADMSG;
	gm->protocol_type = kbuf_read_str(&r);
	gm->generation = kbuf_read_i32(&r);
	gm->protocol = kbuf_read_nstr(&r);
	gm->leader = kbuf_read_nstr(&r);
	gm->current_state_timestamp = v >= 2 ? kbuf_read_i64(&r) : -1;
	/* A member takes at least 2 + 2 + 2 + 4 + 4 + 4 bytes. */
	n = kbuf_read_array_len(&r, false, false, 18);
	if (kbuf_r_err(&r))
		return -EBADMSG;
	gm->members = calloc((size_t)n + 1, sizeof(*gm->members));
	if (!gm->members)
		return -ENOMEM;
	gm->n_members = n;
	for (int32_t i = 0; i < n; i++) {
		struct group_meta_member *m = &gm->members[i];

		m->member_id = kbuf_read_str(&r);
		m->instance_id = v >= 3 ? kbuf_read_nstr(&r) : KSTR_NULL;
		m->client_id = kbuf_read_str(&r);
		m->client_host = kbuf_read_str(&r);
		m->rebalance_timeout = v >= 1 ? kbuf_read_i32(&r) : 0;
		m->session_timeout = kbuf_read_i32(&r);
		if (v == 0)
			m->rebalance_timeout = m->session_timeout;
		m->subscription = kbuf_read_bytes(&r, false, false);
		m->assignment = kbuf_read_bytes(&r, false, false);
	}
	if (kbuf_r_done(&r) < 0) {
		group_meta_free(gm);
		return -EBADMSG;
	}
	return 0;
}

void group_meta_free(struct group_meta *gm)
{
	free(gm->members);
	gm->members = NULL;
	gm->n_members = 0;
}

/* Escapes [p, p + n) into o (4 bytes a byte at most); returns the end. */
static char *escape(char *o, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[p[i] >> 4];
			*o++ = hex[p[i] & 0xf];
		} else {
			*o++ = (char)p[i];
		}
	}
	return o;
}

char *group_meta_line(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
		      size_t *out_len)
{
	char *line = malloc(4 * (klen + vlen) + 3), *o;

	if (!line)
		return NULL;
	o = line;
	*o++ = '\\';
	o = escape(o, key, klen);
	*o++ = '\t';
	o = escape(o, val, vlen);
	*o++ = '\n';
	*out_len = (size_t)(o - line);
	return line;
}

int group_meta_line_parse(const char *line, size_t len, struct line_scratch *scratch,
			  struct rec_in *r)
{
	struct line_rules lr = { .sep = "\t",
				 .sep_len = 1,
				 .max = INT32_MAX,
				 .format = LINE_FORMAT_ESCAPE,
				 .scratch = scratch };

	line_scratch_reset(scratch, len);
	if (!line_unescape_rec(&lr, line, len, r))
		return scratch->buf ? -EBADMSG : -ENOMEM;
	return r->key_len < 0 ? -EBADMSG : 0;
}
