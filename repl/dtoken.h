/*
 * dtoken.h — private to repl/: Kafka's delegation tokens (KIP-48) as its
 * ZooKeeper-mode brokers keep them: the token's znode document, its HMAC,
 * and the cache every broker holds (Kafka's DelegationTokenCache) from
 * which the listener authenticates a token and the handlers answer.
 *
 * A token (Kafka's TokenInformation): an id (22 characters of url-safe
 * base64 of a random UUID, Kafka's CoreUtils.generateUuidAsBase64), its
 * owner, its requester (who created it: the owner unless a v3 create
 * named another owner), renewers, and three times in ms since the epoch:
 * issue, max (issue + the lifetime granted, never passed by a renewal)
 * and expiry (when it lapses unless renewed). Principals are Kafka's
 * strings "User:alice" (type, ':', name).
 *
 * Its HMAC is HmacSHA512(delegation.token.secret.key, id), 64 bytes; a
 * client authenticates with SCRAM, its user name being the id and its
 * password the HMAC in standard base64 with padding (88 characters), and
 * becomes the owner. The cache keeps the token's SCRAM credentials, one
 * per mechanism (SCRAM-SHA-256 and SCRAM-SHA-512), each derived from
 * that password with a random salt and 4096 iterations, as Kafka derives
 * them.
 *
 * /delegation_token/tokens/<id>, persistent (Kafka's
 * DelegationTokenInfoZNode, version 3; principals sanitized as Kafka's
 * Sanitizer, URL-encoded):
 *   {"version":3,"owner":"User%3Aalice","tokenRequester":"User%3Aalice",
 *    "renewers":["User%3Abob"],"issueTimestamp":1700000000000,
 *    "maxTimestamp":1700604800000,"expiryTimestamp":1700086400000,
 *    "tokenId":"<id>"}
 * Versions 1 and 2 (no tokenRequester: the owner) are read too.
 * /delegation_token/token_changes/token_change_<10-digit seq>,
 * persistent sequential, its data the token id: every broker reads the
 * token's znode again (gone: the token is dropped).
 *
 * Threads: the store has its own lock (a leaf, held only to copy in or
 * out), so the listener's loop threads may ask it without blocking on
 * anything else. The rest keeps no state.
 */
#ifndef MQFS_REPL_DTOKEN_H
#define MQFS_REPL_DTOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repl/sasl.h"

#define DTOKEN_PATH          "/delegation_token"
#define DTOKEN_TOKENS_PATH   "/delegation_token/tokens"
#define DTOKEN_CHANGES_PATH  "/delegation_token/token_changes"
#define DTOKEN_CHANGE_PREFIX "token_change_"
#define DTOKEN_HMAC_LEN      64  /* HmacSHA512 */
#define DTOKEN_HMAC_B64_LEN  88  /* its base64, the SCRAM password */
#define DTOKEN_ID_MAX        255 /* a token id's bytes, longer refused */
#define DTOKEN_PRINCIPAL_MAX 1024
#define DTOKEN_JSON_VERSION  3

struct dtoken {
	char *id;
	char *owner;     /* "User:alice" */
	char *requester; /* "User:alice" */
	char **renewers;
	int n_renewers;
	int64_t issue_ms;
	int64_t max_ms;
	int64_t expiry_ms;
};

/* Frees what t holds and zeroes it (a zeroed struct is fine). */
void dtoken_clear(struct dtoken *t);
/* A deep copy: 0 or -ENOMEM (dst zeroed). */
int dtoken_copy(struct dtoken *dst, const struct dtoken *src);
/* Whether principal is t's owner or one of its renewers (Kafka's
 * TokenInformation.ownerOrRenewer). */
bool dtoken_owner_or_renewer(const struct dtoken *t, const char *principal);
/* Whether t lapsed at now_ms (its max or expiry time before now, as
 * Kafka's checks). */
bool dtoken_expired(const struct dtoken *t, int64_t now_ms);
/* A new token id: 0 or -EIO. */
int dtoken_new_id(char *out, size_t size);
/* HmacSHA512(secret, id): 0 or -EIO. */
int dtoken_hmac(const char *secret, const char *id, uint8_t out[DTOKEN_HMAC_LEN]);
/* The HMAC's base64 (the token's SCRAM password), NUL-terminated. */
void dtoken_hmac_b64(const uint8_t hmac[DTOKEN_HMAC_LEN], char out[DTOKEN_HMAC_B64_LEN + 1]);
/* Splits "Type:name" at its first ':' (Kafka's parseKafkaPrincipal,
 * which takes empty parts too): pointers into p, lengths; -EINVAL
 * without a ':'. */
int dtoken_principal_split(const char *p, const char **type, size_t *tlen, const char **name,
			   size_t *nlen);

/* The token's znode document (version 3), malloc'd, or NULL (no memory,
 * or a principal too long to sanitize). */
char *dtoken_json_encode(const struct dtoken *t);
/* A document into *t (dtoken_clear it): 0, -EBADMSG (why, ZK_WHY_LEN:
 * what), -ENOMEM. Its tokenId must be id (the znode's name) when id is
 * not NULL. */
int dtoken_json_decode(const char *buf, size_t len, const char *id, struct dtoken *t, char *why);

/* ---- the cache ---- */

struct dtoken_store;

/* secret: delegation.token.secret.key (copied; every HMAC is derived from
 * it). 0 or -ENOMEM. */
int dtoken_store_new(const char *secret, struct dtoken_store **out);
void dtoken_store_free(struct dtoken_store *s);
/* t's HMAC into out (the secret's): 0 or -EIO. */
int dtoken_store_hmac(const struct dtoken_store *s, const char *id, uint8_t out[DTOKEN_HMAC_LEN]);
/* Adds t (a copy), or replaces the token of its id, with its HMAC and
 * SCRAM credentials (Kafka's updateCache). 0, -ENOMEM, -EIO. */
int dtoken_store_put(struct dtoken_store *s, const struct dtoken *t);
/* Drops the token of id: 1, or 0 when there was none. */
int dtoken_store_remove(struct dtoken_store *s, const char *id);
/* Drops every token whose id is not among ids[0..n) (a whole read of
 * ZooKeeper); the count dropped. */
int dtoken_store_keep(struct dtoken_store *s, char *const *ids, int n);
/* For the SCRAM exchange: the credential of token id for mech, its
 * owner's name (the part after "User:") and its expiry time. 0, -ENOENT. */
int dtoken_store_cred(struct dtoken_store *s, const char *id, enum sasl_mech mech,
		      struct sasl_cred *cred, char *owner, size_t owner_size, int64_t *expiry_ms);
/* The token whose HMAC is hmac[0..len) (a copy into *t): 0, -ENOENT,
 * -ENOMEM. */
int dtoken_store_by_hmac(struct dtoken_store *s, const uint8_t *hmac, size_t len, struct dtoken *t);
/* Copies of every token, sorted by id, with their HMACs (*hmacs:
 * DTOKEN_HMAC_LEN bytes each); free with dtoken_list_free. The count or
 * -ENOMEM. */
int dtoken_store_list(struct dtoken_store *s, struct dtoken **v, uint8_t **hmacs);
void dtoken_list_free(struct dtoken *v, uint8_t *hmacs, int n);
/* The number of tokens held. */
int dtoken_store_count(struct dtoken_store *s);

#endif
