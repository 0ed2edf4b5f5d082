/*
 * dtoken.c — delegation tokens: their document, HMAC and cache
 * (dtoken.h).
 *
 * The cache is an array sorted by id under one mutex. Each entry keeps
 * the token, its HMAC and its SCRAM credentials; lookups copy out under
 * the lock, so nothing a caller holds points into the array.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "repl/client_quota.h"
#include "repl/dtoken.h"
#include "repl/zkdata.h"
#include "util/bsearch.h"

void dtoken_clear(struct dtoken *t)
{
	if (!t)
		return;
	free(t->id);
	free(t->owner);
	free(t->requester);
	for (int i = 0; i < t->n_renewers; i++)
		free(t->renewers[i]);
	free(t->renewers);
	memset(t, 0, sizeof(*t));
}

int dtoken_copy(struct dtoken *dst, const struct dtoken *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->id = strdup(src->id ? src->id : "");
	dst->owner = strdup(src->owner ? src->owner : "");
	dst->requester = strdup(src->requester ? src->requester : "");
	dst->renewers = calloc((size_t)src->n_renewers + 1, sizeof(char *));
	if (!dst->id || !dst->owner || !dst->requester || !dst->renewers)
		goto nomem;
	for (; dst->n_renewers < src->n_renewers; dst->n_renewers++)
		if (!(dst->renewers[dst->n_renewers] = strdup(src->renewers[dst->n_renewers])))
			goto nomem;
	dst->issue_ms = src->issue_ms;
	dst->max_ms = src->max_ms;
	dst->expiry_ms = src->expiry_ms;
	return 0;
nomem:
	dtoken_clear(dst);
	return -ENOMEM;
}

bool dtoken_owner_or_renewer(const struct dtoken *t, const char *principal)
{
	if (!strcmp(t->owner, principal))
		return true;
	for (int i = 0; i < t->n_renewers; i++)
		if (!strcmp(t->renewers[i], principal))
			return true;
	return false;
}

bool dtoken_expired(const struct dtoken *t, int64_t now_ms)
{
	return t->max_ms < now_ms || t->expiry_ms < now_ms;
}

int dtoken_new_id(char *out, size_t size)
{
	char id[ZK_UUID_LEN + 1];

	if (size < sizeof(id) || zk_uuid_new(id) < 0)
		return -EIO;
	memcpy(out, id, sizeof(id));
	return 0;
}

int dtoken_hmac(const char *secret, const char *id, uint8_t out[DTOKEN_HMAC_LEN])
{
	unsigned int len = 0;

	if (!HMAC(EVP_sha512(), secret, (int)strlen(secret), (const unsigned char *)id, strlen(id),
		  out, &len) ||
	    len != DTOKEN_HMAC_LEN)
		return -EIO;
	return 0;
}

void dtoken_hmac_b64(const uint8_t hmac[DTOKEN_HMAC_LEN], char out[DTOKEN_HMAC_B64_LEN + 1])
{
	EVP_EncodeBlock((unsigned char *)out, hmac, DTOKEN_HMAC_LEN);
	out[DTOKEN_HMAC_B64_LEN] = '\0';
}

int dtoken_principal_split(const char *p, const char **type, size_t *tlen, const char **name,
			   size_t *nlen)
{
	const char *colon = strchr(p, ':');

	if (!colon)
		return -EINVAL;
	*type = p;
	*tlen = (size_t)(colon - p);
	*name = colon + 1;
	*nlen = strlen(colon + 1);
	return 0;
}

/* ---- the znode's document ---- */

/* A principal as Kafka's Sanitizer writes it, or NULL. */
static json_t *sanitized(const char *principal)
{
	char buf[3 * DTOKEN_PRINCIPAL_MAX + 1];

	if (client_quota_sanitize(principal, strlen(principal), buf, sizeof(buf)) < 0)
		return NULL;
	return json_string(buf);
}

char *dtoken_json_encode(const struct dtoken *t)
{
	json_t *root = json_object(), *renewers = json_array();
	char *s;

	for (int i = 0; renewers && i < t->n_renewers; i++) {
		json_t *r = sanitized(t->renewers[i]);

		if (!r || json_array_append_new(renewers, r) < 0) {
			json_decref(renewers);
			renewers = NULL;
		}
	}
	/* Kafka's field order (toJsonCompatibleMap). */
	root = zk_json_put(root, "version", json_integer(DTOKEN_JSON_VERSION));
	root = zk_json_put(root, "owner", sanitized(t->owner));
	root = zk_json_put(root, "tokenRequester", sanitized(t->requester));
	root = zk_json_put(root, "renewers", renewers);
	root = zk_json_put(root, "issueTimestamp", json_integer(t->issue_ms));
	root = zk_json_put(root, "maxTimestamp", json_integer(t->max_ms));
	root = zk_json_put(root, "expiryTimestamp", json_integer(t->expiry_ms));
	root = zk_json_put(root, "tokenId", json_string(t->id));
	s = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(root);
	return s;
}

/* A sanitized principal of the document into a malloc'd "Type:name". */
static int principal_of(json_t *v, const char *what, char **out, char *why)
{
	char buf[DTOKEN_PRINCIPAL_MAX];
	const char *s = json_string_value(v), *type, *name;
	size_t tl, nl;

	if (!s)
		return zk_bad(why, "\"%s\" is not a string", what);
	if (client_quota_desanitize(s, buf, sizeof(buf)) < 0)
		return zk_bad(why, "\"%s\" is not a sanitized principal", what);
	if (dtoken_principal_split(buf, &type, &tl, &name, &nl) < 0)
		return zk_bad(why, "\"%s\" is not Type:name", what);
	*out = strdup(buf);
	return *out ? 0 : -ENOMEM;
}

static int ms_of(json_t *root, const char *key, int64_t *out, char *why)
{
	json_t *v = json_object_get(root, key);

	if (!json_is_integer(v))
		return zk_bad(why, "\"%s\" is not an integer", key);
	*out = json_integer_value(v);
	return 0;
}

int dtoken_json_decode(const char *buf, size_t len, const char *id, struct dtoken *t, char *why)
{
	json_error_t err;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err), *v, *arr;
	int64_t version = 0;
	const char *tid;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!json_is_object(root)) {
		rc = zk_bad(why, "not a JSON object%s%.100s", root ? "" : ": ",
			    root ? "" : err.text);
		goto out;
	}
	v = json_object_get(root, "version");
	version = json_is_integer(v) ? json_integer_value(v) : 0;
	/* Kafka's fromBytes: require(version > 0 && version <= 3). */
	if (version < 1 || version > DTOKEN_JSON_VERSION) {
		rc = zk_bad(why, "\"version\" is not 1 to %d", DTOKEN_JSON_VERSION);
		goto out;
	}
	tid = json_string_value(json_object_get(root, "tokenId"));
	if (!tid || !tid[0] || strlen(tid) > DTOKEN_ID_MAX || (id && strcmp(tid, id))) {
		rc = zk_bad(why, "\"tokenId\" is not the znode's name");
		goto out;
	}
	if (!(t->id = strdup(tid))) {
		rc = -ENOMEM;
		goto out;
	}
	rc = principal_of(json_object_get(root, "owner"), "owner", &t->owner, why);
	if (rc == 0)
		rc = version >= 3 ? principal_of(json_object_get(root, "tokenRequester"),
						 "tokenRequester", &t->requester, why)
		     : (t->requester = strdup(t->owner)) ? 0
							 : -ENOMEM;
	if (rc == 0)
		rc = ms_of(root, "issueTimestamp", &t->issue_ms, why);
	if (rc == 0)
		rc = ms_of(root, "maxTimestamp", &t->max_ms, why);
	if (rc == 0)
		rc = ms_of(root, "expiryTimestamp", &t->expiry_ms, why);
	if (rc)
		goto out;
	arr = json_object_get(root, "renewers");
	if (!json_is_array(arr)) {
		rc = zk_bad(why, "\"renewers\" is not an array");
		goto out;
	}
	t->renewers = calloc(json_array_size(arr) + 1, sizeof(char *));
	if (!t->renewers) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(arr) && rc == 0; i++) {
		rc = principal_of(json_array_get(arr, i), "renewers", &t->renewers[i], why);
		if (rc == 0)
			t->n_renewers++;
	}
out:
	json_decref(root);
	if (rc)
		dtoken_clear(t);
	return rc;
}

/* ---- the cache ---- */

struct entry {
	struct dtoken t;
	uint8_t hmac[DTOKEN_HMAC_LEN];
	struct sasl_cred cred[SASL_N_MECH]; /* one per mechanism, as Kafka's */
};

struct dtoken_store {
	pthread_mutex_t mu;
	char *secret;
	struct entry *v; /* sorted by id */
	int n;
};

int dtoken_store_new(const char *secret, struct dtoken_store **out)
{
	struct dtoken_store *s = calloc(1, sizeof(*s));

	if (!s || !(s->secret = strdup(secret))) {
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return 0;
}

void dtoken_store_free(struct dtoken_store *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n; i++) {
		dtoken_clear(&s->v[i].t);
		OPENSSL_cleanse(&s->v[i], sizeof(s->v[i]));
	}
	free(s->v);
	OPENSSL_cleanse(s->secret, strlen(s->secret));
	free(s->secret);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int dtoken_store_hmac(const struct dtoken_store *s, const char *id, uint8_t out[DTOKEN_HMAC_LEN])
{
	return dtoken_hmac(s->secret, id, out);
}

static const char *id_at(const void *arg, int i)
{
	return ((const struct dtoken_store *)arg)->v[i].t.id;
}

/* The index of id, or -(insertion point) - 1. Under mu. */
static int find(const struct dtoken_store *s, const char *id)
{
	return bsearch_name(s->n, id, id_at, s);
}

int dtoken_store_put(struct dtoken_store *s, const struct dtoken *t)
{
	struct entry e;
	char password[DTOKEN_HMAC_B64_LEN + 1];
	int rc, at;

	memset(&e, 0, sizeof(e));
	/* Outside the lock: PBKDF2's 4096 rounds are not for the loop
	 * threads to wait on. */
	rc = dtoken_hmac(s->secret, t->id, e.hmac);
	if (rc == 0)
		dtoken_hmac_b64(e.hmac, password);
	/* Kafka's DelegationTokenManager keeps a credential for every SCRAM
	 * mechanism, so a token logs in with either. */
	for (int m = 0; rc == 0 && m < SASL_N_MECH; m++)
		rc = sasl_cred_from_password((enum sasl_mech)m, password, NULL, 0,
					     SASL_MIN_ITERATIONS, &e.cred[m]);
	OPENSSL_cleanse(password, sizeof(password));
	if (rc == 0)
		rc = dtoken_copy(&e.t, t);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->mu);
	at = find(s, t->id);
	if (at >= 0) {
		dtoken_clear(&s->v[at].t);
		s->v[at] = e;
	} else {
		struct entry *nv = realloc(s->v, ((size_t)s->n + 1) * sizeof(*nv));

		if (!nv) {
			rc = -ENOMEM;
		} else {
			at = -at - 1;
			s->v = nv;
			memmove(&s->v[at + 1], &s->v[at], (size_t)(s->n - at) * sizeof(*nv));
			s->v[at] = e;
			s->n++;
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (rc)
		dtoken_clear(&e.t);
	return rc;
}

/* Drops entry at. Under mu. */
static void drop_at(struct dtoken_store *s, int at)
{
	dtoken_clear(&s->v[at].t);
	OPENSSL_cleanse(&s->v[at], sizeof(s->v[at]));
	memmove(&s->v[at], &s->v[at + 1], (size_t)(s->n - at - 1) * sizeof(s->v[0]));
	s->n--;
}

int dtoken_store_remove(struct dtoken_store *s, const char *id)
{
	int at;

	pthread_mutex_lock(&s->mu);
	at = find(s, id);
	if (at >= 0)
		drop_at(s, at);
	pthread_mutex_unlock(&s->mu);
	return at >= 0;
}

int dtoken_store_keep(struct dtoken_store *s, char *const *ids, int n)
{
	int dropped = 0;

	pthread_mutex_lock(&s->mu);
	for (int i = s->n - 1; i >= 0; i--) {
		bool kept = false;

		for (int j = 0; j < n && !kept; j++)
			kept = !strcmp(s->v[i].t.id, ids[j]);
		if (!kept) {
			drop_at(s, i);
			dropped++;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return dropped;
}

int dtoken_store_cred(struct dtoken_store *s, const char *id, enum sasl_mech mech,
		      struct sasl_cred *cred, char *owner, size_t owner_size, int64_t *expiry_ms)
{
	const char *type, *name;
	size_t tl, nl;
	int at, rc = -ENOENT;

	pthread_mutex_lock(&s->mu);
	at = find(s, id);
	/* An owner without a name would be no user to the listener (its
	 * empty user is PLAINTEXT's): refused as an unknown token. */
	if (at >= 0 && dtoken_principal_split(s->v[at].t.owner, &type, &tl, &name, &nl) == 0 &&
	    nl > 0 && nl < owner_size && (unsigned)mech < SASL_N_MECH) {
		*cred = s->v[at].cred[mech];
		memcpy(owner, name, nl + 1);
		*expiry_ms = s->v[at].t.expiry_ms;
		rc = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int dtoken_store_by_hmac(struct dtoken_store *s, const uint8_t *hmac, size_t len, struct dtoken *t)
{
	int rc = -ENOENT;

	memset(t, 0, sizeof(*t));
	if (len != DTOKEN_HMAC_LEN)
		return -ENOENT;
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < s->n && rc == -ENOENT; i++)
		if (!CRYPTO_memcmp(s->v[i].hmac, hmac, DTOKEN_HMAC_LEN))
			rc = dtoken_copy(t, &s->v[i].t);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int dtoken_store_list(struct dtoken_store *s, struct dtoken **v, uint8_t **hmacs)
{
	int n, rc = 0;

	pthread_mutex_lock(&s->mu);
	n = s->n;
	*v = calloc((size_t)n + 1, sizeof(**v));
	*hmacs = malloc(((size_t)n + 1) * DTOKEN_HMAC_LEN);
	for (int i = 0; *v && *hmacs && i < n && rc == 0; i++) {
		rc = dtoken_copy(&(*v)[i], &s->v[i].t);
		memcpy(*hmacs + (size_t)i * DTOKEN_HMAC_LEN, s->v[i].hmac, DTOKEN_HMAC_LEN);
	}
	pthread_mutex_unlock(&s->mu);
	if (!*v || !*hmacs || rc) {
		dtoken_list_free(*v, *hmacs, n);
		*v = NULL;
		*hmacs = NULL;
		return -ENOMEM;
	}
	return n;
}

void dtoken_list_free(struct dtoken *v, uint8_t *hmacs, int n)
{
	for (int i = 0; v && i < n; i++)
		dtoken_clear(&v[i]);
	free(v);
	if (hmacs)
		OPENSSL_cleanse(hmacs, (size_t)n * DTOKEN_HMAC_LEN);
	free(hmacs);
}

int dtoken_store_count(struct dtoken_store *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->n;
	pthread_mutex_unlock(&s->mu);
	return n;
}
