/*
 * sasl.c — SCRAM-SHA-256 and SCRAM-SHA-512, server and client, over
 * OpenSSL's libcrypto.
 * The messages, the key derivation and the refusals are written down in
 * sasl.h.
 *
 * Parsing keeps to the RFC's grammar and order; each message is checked
 * whole before any state changes, so a refused message leaves nothing
 * half-applied (the state just becomes FAILED). All buffers are fixed
 * arrays bounded by SASL_MAX_MSG, so no input makes this allocate.
 * Secrets (salted password, client key) are wiped after use.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "repl/proto.h"
#include "repl/sasl.h"

#define NONCE_RAW 24 /* random bytes of a nonce part, 32 in base64 */

/* ---- base64 (strict: padding only at the end, no whitespace) ---- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encodes into out (cap >= 4 * ceil(n / 3) + 1); the length. */
static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64chars[v & 63] : '=';
	}
	out[o] = 0;
	return o;
}

static int b64_val(char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;

	return p ? (int)(p - b64chars) : -1;
}

/* Decodes n chars into out (at most cap bytes); the length or -EBADMSG. */
static int b64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	size_t o = 0;

	if (n % 4)
		return -EBADMSG;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		uint32_t x;

		for (int k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad || (v[k] = b64_val(in[i + k])) < 0)
				return -EBADMSG;
		}
		x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
		    (uint32_t)v[3];
		if (o + 3 - (size_t)pad > cap)
			return -EBADMSG;
		out[o++] = (uint8_t)(x >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(x >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)x;
	}
	return (int)o;
}

/* ---- the SCRAM functions ---- */

static const char *const mech_names[SASL_N_MECH] = { SASL_SCRAM_SHA_256, SASL_SCRAM_SHA_512 };

const char *sasl_mech_name(enum sasl_mech mech)
{
	return mech_names[mech];
}

int sasl_mech_of(const char *name, size_t len, enum sasl_mech *mech)
{
	for (int m = 0; m < SASL_N_MECH; m++)
		if (len == strlen(mech_names[m]) && !memcmp(name, mech_names[m], len)) {
			*mech = (enum sasl_mech)m;
			return 0;
		}
	return -ENOENT;
}

size_t sasl_key_len(enum sasl_mech mech)
{
	return mech == SASL_SHA_512 ? 64 : 32;
}

static const EVP_MD *md_of(enum sasl_mech mech)
{
	return mech == SASL_SHA_512 ? EVP_sha512() : EVP_sha256();
}

/* HMAC with mech's hash: sasl_key_len(mech) bytes into out. */
static int hmac(enum sasl_mech mech, const uint8_t *key, size_t key_len, const void *data, size_t n,
		uint8_t out[SASL_MAX_KEY_LEN])
{
	unsigned int len = 0;

	if (!HMAC(md_of(mech), key, (int)key_len, data, n, out, &len) || len != sasl_key_len(mech))
		return -EIO;
	return 0;
}

/* H(in), sasl_key_len(mech) bytes into out. */
static int hash(enum sasl_mech mech, const uint8_t *in, size_t n, uint8_t out[SASL_MAX_KEY_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(in, n, out, &len, md_of(mech), NULL) != 1 || len != sasl_key_len(mech))
		return -EIO;
	return 0;
}

/* ClientKey and ServerKey of a salted password (RFC 5802). */
static int keys_of(enum sasl_mech mech, const uint8_t salted[SASL_MAX_KEY_LEN],
		   uint8_t client_key[SASL_MAX_KEY_LEN], uint8_t server_key[SASL_MAX_KEY_LEN])
{
	size_t kl = sasl_key_len(mech);

	return hmac(mech, salted, kl, "Client Key", 10, client_key) ||
			       hmac(mech, salted, kl, "Server Key", 10, server_key)
		       ? -EIO
		       : 0;
}

/* SaltedPassword = Hi(password, salt, i), then its two keys. */
static int derive(enum sasl_mech mech, const char *password, const uint8_t *salt, size_t salt_len,
		  int iterations, uint8_t client_key[SASL_MAX_KEY_LEN],
		  uint8_t server_key[SASL_MAX_KEY_LEN])
{
	uint8_t salted[SASL_MAX_KEY_LEN];
	int rc = -EIO;

	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, iterations,
			      md_of(mech), (int)sasl_key_len(mech), salted) == 1)
		rc = keys_of(mech, salted, client_key, server_key);
	OPENSSL_cleanse(salted, sizeof(salted));
	return rc;
}

/* StoredKey = H(ClientKey) and ServerKey of a salted password into cred
 * (cred->mech set). */
static int keys_from_salted(const uint8_t salted[SASL_MAX_KEY_LEN], struct sasl_cred *cred)
{
	uint8_t client_key[SASL_MAX_KEY_LEN];
	int rc = keys_of(cred->mech, salted, client_key, cred->server_key);

	if (!rc)
		rc = hash(cred->mech, client_key, sasl_key_len(cred->mech), cred->stored_key);
	OPENSSL_cleanse(client_key, sizeof(client_key));
	return rc;
}

/* The mechanism, salt and iterations of a new credential into cred (salt
 * NULL: 32 random bytes). */
static int cred_begin(enum sasl_mech mech, const uint8_t *salt, size_t salt_len, int iterations,
		      struct sasl_cred *cred)
{
	memset(cred, 0, sizeof(*cred));
	if ((unsigned)mech >= SASL_N_MECH || iterations < SASL_MIN_ITERATIONS ||
	    iterations > SASL_MAX_ITERATIONS)
		return -EINVAL;
	if (!salt) {
		salt_len = 32;
		if (RAND_bytes(cred->salt, (int)salt_len) != 1)
			return -EIO;
	} else {
		if (!salt_len || salt_len > SASL_MAX_SALT)
			return -EINVAL;
		memcpy(cred->salt, salt, salt_len);
	}
	cred->mech = mech;
	cred->salt_len = salt_len;
	cred->iterations = iterations;
	return 0;
}

int sasl_cred_from_password(enum sasl_mech mech, const char *password, const uint8_t *salt,
			    size_t salt_len, int iterations, struct sasl_cred *cred)
{
	uint8_t client_key[SASL_MAX_KEY_LEN];
	int rc = cred_begin(mech, salt, salt_len, iterations, cred);

	if (rc)
		return rc;
	rc = derive(mech, password, cred->salt, cred->salt_len, iterations, client_key,
		    cred->server_key);
	if (!rc)
		rc = hash(mech, client_key, sasl_key_len(mech), cred->stored_key);
	OPENSSL_cleanse(client_key, sizeof(client_key));
	return rc;
}

int sasl_cred_from_salted(enum sasl_mech mech, const uint8_t *salted, size_t salted_len,
			  const uint8_t *salt, size_t salt_len, int iterations,
			  struct sasl_cred *cred)
{
	int rc;

	if (!salt || (unsigned)mech >= SASL_N_MECH || salted_len != sasl_key_len(mech)) {
		memset(cred, 0, sizeof(*cred));
		return -EINVAL;
	}
	rc = cred_begin(mech, salt, salt_len, iterations, cred);
	return rc ? rc : keys_from_salted(salted, cred);
}

/* The value of key=... in a credential text, up to ',' ']' or the end. */
static int cred_field(const char *text, const char *key, const char **v, size_t *n)
{
	size_t kl = strlen(key);

	for (const char *p = text; *p; p++) {
		if ((p == text || p[-1] == ',' || p[-1] == '[') && !strncmp(p, key, kl) &&
		    p[kl] == '=') {
			*v = p + kl + 1;
			*n = strcspn(*v, ",]");
			return 0;
		}
	}
	return -EINVAL;
}

int sasl_cred_parse(enum sasl_mech mech, const char *text, struct sasl_cred *cred)
{
	const char *body = text, *v, *name;
	size_t n, blen, kl, nl;
	char num[16];
	int len;

	memset(cred, 0, sizeof(*cred));
	if ((unsigned)mech >= SASL_N_MECH)
		return -EINVAL;
	cred->mech = mech;
	kl = sasl_key_len(mech);
	name = sasl_mech_name(mech);
	nl = strlen(name);
	if (!strncmp(text, name, nl) && !strncmp(text + nl, "=[", 2))
		body = text + nl + 2;
	blen = strlen(body);
	if (body != text && (blen == 0 || body[blen - 1] != ']'))
		return -EINVAL;
	if (body == text && strchr(text, '['))
		return -EINVAL; /* wrapped in another mechanism's name */
	if (cred_field(body, "salt", &v, &n))
		return -EINVAL;
	len = b64_decode(v, n, cred->salt, sizeof(cred->salt));
	if (len <= 0)
		return -EINVAL;
	cred->salt_len = (size_t)len;
	/* A key of the other mechanism's length (a SCRAM-SHA-256 credential
	 * stored under SCRAM-SHA-512) is refused: it could never match. */
	if (cred_field(body, "stored_key", &v, &n) ||
	    b64_decode(v, n, cred->stored_key, SASL_MAX_KEY_LEN) != (int)kl)
		return -EINVAL;
	if (cred_field(body, "server_key", &v, &n) ||
	    b64_decode(v, n, cred->server_key, SASL_MAX_KEY_LEN) != (int)kl)
		return -EINVAL;
	if (cred_field(body, "iterations", &v, &n) || n == 0 || n >= sizeof(num) ||
	    strspn(v, "0123456789") < n)
		return -EINVAL;
	memcpy(num, v, n);
	num[n] = 0;
	/* At most 15 digits: no overflow in 64 bits, where atoi's int would
	 * wrap 4294971392 (2^32 + 4096) into the range. */
	long long it = strtoll(num, NULL, 10);
	if (it < SASL_MIN_ITERATIONS || it > SASL_MAX_ITERATIONS)
		return -EINVAL;
	cred->iterations = (int)it;
	return 0;
}

int sasl_cred_format(const struct sasl_cred *cred, char *buf, size_t cap)
{
	char salt[SASL_MAX_SALT * 2], sk[SASL_MAX_KEY_LEN * 2], vk[SASL_MAX_KEY_LEN * 2];
	size_t kl = sasl_key_len(cred->mech);
	int n;

	b64_encode(cred->salt, cred->salt_len, salt);
	b64_encode(cred->stored_key, kl, sk);
	b64_encode(cred->server_key, kl, vk);
	n = snprintf(buf, cap, "%s=[salt=%s,stored_key=%s,server_key=%s,iterations=%d]",
		     sasl_mech_name(cred->mech), salt, sk, vk, cred->iterations);
	return n < 0 || (size_t)n >= cap ? -ENOSPC : n;
}

int16_t sasl_kafka_error(int err)
{
	return err == -EALREADY ? PROTO_ERR_ILLEGAL_SASL_STATE
				: PROTO_ERR_SASL_AUTHENTICATION_FAILED;
}

/* ---- message parsing ---- */

/* A cursor over one message. */
struct msg {
	const char *p;
	const char *end;
};

/* Reads attribute "key=value" at the cursor (value up to ',' or the end)
 * and moves past the ',' after it. */
static bool msg_attr(struct msg *m, char key, const char **v, size_t *n)
{
	const char *comma;

	if (m->end - m->p < 2 || m->p[0] != key || m->p[1] != '=')
		return false;
	*v = m->p + 2;
	comma = memchr(*v, ',', (size_t)(m->end - *v));
	*n = (size_t)((comma ? comma : m->end) - *v);
	m->p = comma ? comma + 1 : m->end;
	return true;
}

static bool nonce_ok(const char *v, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x21 || v[i] > 0x7e || v[i] == ',')
			return false;
	return true;
}

/* saslname -> user; 0 or -EILSEQ. */
static int unescape_user(const char *v, size_t n, char *user)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (c == '=') {
			if (n - i >= 3 && v[i + 1] == '2' && v[i + 2] == 'C')
				c = ',';
			else if (n - i >= 3 && v[i + 1] == '3' && v[i + 2] == 'D')
				c = '=';
			else
				return -EILSEQ;
			i += 2;
		}
		if (o >= SASL_MAX_USER)
			return -EILSEQ;
		user[o++] = c;
	}
	user[o] = 0;
	return o ? 0 : -EILSEQ;
}

/* user -> saslname; the length or -EILSEQ. */
static int escape_user(const char *user, char *out, size_t cap)
{
	size_t o = 0, n = strlen(user);

	if (!n || n > SASL_MAX_USER)
		return -EILSEQ;
	for (size_t i = 0; i < n; i++) {
		const char *rep = user[i] == ',' ? "=2C" : user[i] == '=' ? "=3D" : NULL;
		size_t k = rep ? 3 : 1;

		if (o + k >= cap)
			return -EILSEQ;
		memcpy(out + o, rep ? rep : &user[i], k);
		o += k;
	}
	out[o] = 0;
	return (int)o;
}

static int random_nonce(char *out)
{
	uint8_t raw[NONCE_RAW];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	b64_encode(raw, sizeof(raw), out);
	return 0;
}

/* ---- server ---- */

/* A made-up credential for a user the lookup does not know: the server
 * answers client-first as for a real user and refuses at client-final,
 * where a wrong password is refused, so what an unauthenticated peer sees
 * does not tell which users exist. The salt is HMAC(mock key, user): the
 * same on every attempt, as a real user's is (a random one each time
 * would tell), and on every broker that set the same key (see
 * sasl_mock_secret_set). The keys stay zero: the exchange is refused
 * before they are compared. */
static pthread_mutex_t mock_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t mock_key[32];
static bool mock_key_set;

int sasl_mock_secret_set(const char *secret)
{
	uint8_t key[SASL_MAX_KEY_LEN];

	if (hmac(SASL_SHA_256, (const uint8_t *)secret, strlen(secret),
		 "mqfs SCRAM unknown-user salt", 28, key))
		return -EIO;
	pthread_mutex_lock(&mock_mu);
	memcpy(mock_key, key, sizeof(mock_key));
	mock_key_set = true;
	pthread_mutex_unlock(&mock_mu);
	OPENSSL_cleanse(key, sizeof(key));
	return 0;
}

static int mock_cred(enum sasl_mech mech, const char *user, struct sasl_cred *cred)
{
	uint8_t key[sizeof(mock_key)], salt[SASL_MAX_KEY_LEN];
	char data[SASL_MAX_USER + 1 + sizeof(SASL_SCRAM_SHA_512)];
	size_t n = strlen(user);
	int rc = 0;

	memset(cred, 0, sizeof(*cred));
	pthread_mutex_lock(&mock_mu);
	if (!mock_key_set)
		mock_key_set = RAND_bytes(mock_key, sizeof(mock_key)) == 1;
	if (mock_key_set)
		memcpy(key, mock_key, sizeof(key));
	else
		rc = -EIO;
	pthread_mutex_unlock(&mock_mu);
	/* A real user's salts differ between its mechanisms: so do the
	 * made-up ones (the user, a NUL no name has, the mechanism), but for
	 * SCRAM-SHA-256's, the user alone. */
	memcpy(data, user, n);
	if (mech != SASL_SHA_256) {
		data[n++] = '\0';
		memcpy(data + n, sasl_mech_name(mech), strlen(sasl_mech_name(mech)));
		n += strlen(sasl_mech_name(mech));
	}
	if (!rc)
		rc = hmac(SASL_SHA_256, key, sizeof(key), data, n, salt);
	OPENSSL_cleanse(key, sizeof(key));
	memcpy(cred->salt, salt, 32);
	cred->mech = mech;
	cred->salt_len = 32; /* as sasl_cred_from_password's random salt */
	cred->iterations = SASL_MIN_ITERATIONS;
	return rc;
}

enum srv_state { SRV_START, SRV_WAIT_FINAL, SRV_DONE, SRV_FAILED };

struct sasl_server {
	enum srv_state state;
	enum sasl_mech mech;
	sasl_lookup_fn lookup;
	void *arg;
	struct sasl_cred cred;
	char user[SASL_MAX_USER + 1];
	char gs2[SASL_MAX_MSG + 1]; /* gs2-header, for the c= check */
	size_t gs2_len;
	char first_bare[SASL_MAX_MSG + 1]; /* client-first-bare */
	char nonce[SASL_MAX_MSG + 1];      /* c-nonce s-nonce */
	char snonce[64];                   /* s-nonce, set or random */
	char out[SASL_MAX_MSG + 1];        /* server-first / server-final */
	const char *reason;
	const char *client_msg; /* Kafka's words to the client, or NULL */
	const char *mock;       /* why cred is made up (unknown user), or NULL */
	sasl_token_fn tokens;   /* delegation tokens (tokenauth=true), or NULL */
	void *tokens_arg;
	bool token;                    /* tokenauth=true: user is a token id */
	char owner[SASL_MAX_USER + 1]; /* the token's owner */
	int64_t expiry_ms;             /* the token's expiry */
};

int sasl_server_new(enum sasl_mech mech, sasl_lookup_fn lookup, void *arg, struct sasl_server **out)
{
	struct sasl_server *s;

	if ((unsigned)mech >= SASL_N_MECH)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->mech = mech;
	s->lookup = lookup;
	s->arg = arg;
	s->reason = "";
	*out = s;
	return 0;
}

void sasl_server_free(struct sasl_server *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

int sasl_server_set_nonce(struct sasl_server *s, const char *nonce)
{
	if (!nonce_ok(nonce, strlen(nonce)) || strlen(nonce) >= sizeof(s->snonce))
		return -EINVAL;
	strcpy(s->snonce, nonce);
	return 0;
}

void sasl_server_set_tokens(struct sasl_server *s, sasl_token_fn fn, void *arg)
{
	s->tokens = fn;
	s->tokens_arg = arg;
}

const char *sasl_server_user(const struct sasl_server *s)
{
	return s->state != SRV_DONE ? NULL : s->token ? s->owner : s->user;
}

bool sasl_server_token(const struct sasl_server *s)
{
	return s->state == SRV_DONE && s->token;
}

int64_t sasl_server_token_expiry(const struct sasl_server *s)
{
	return sasl_server_token(s) ? s->expiry_ms : -1;
}

const char *sasl_server_reason(const struct sasl_server *s)
{
	return s->reason;
}

const char *sasl_server_client_message(const struct sasl_server *s)
{
	return s->client_msg;
}

/* Refuses: the state becomes FAILED, reason is kept for the log. */
static int srv_refuse(struct sasl_server *s, int err, const char *reason)
{
	s->state = SRV_FAILED;
	s->reason = reason;
	return err;
}

static int srv_first(struct sasl_server *s, const char *in, size_t n)
{
	struct msg m = { in, in + n };
	const char *v, *bare, *nonce;
	size_t vn, nn;
	char user[SASL_MAX_USER + 1];
	int rc, len;

	/* gs2-header: cbind-flag "," [authzid] "," */
	if (m.p < m.end && *m.p == 'p')
		return srv_refuse(s, -EOPNOTSUPP, "channel binding requested");
	if (n < 3 || (m.p[0] != 'n' && m.p[0] != 'y') || m.p[1] != ',')
		return srv_refuse(s, -EBADMSG, "malformed gs2 header");
	m.p += 2;
	const char *authzid = NULL;
	size_t authzid_len = 0;
	if (m.p < m.end && *m.p != ',') {
		if (!msg_attr(&m, 'a', &authzid, &authzid_len) || !authzid_len)
			return srv_refuse(s, -EBADMSG, "malformed authzid");
	} else if (m.p < m.end) {
		m.p++;
	}
	bare = m.p;
	if (m.end - m.p >= 2 && m.p[0] == 'm' && m.p[1] == '=')
		return srv_refuse(s, -EOPNOTSUPP, "mandatory extension");
	if (!msg_attr(&m, 'n', &v, &vn))
		return srv_refuse(s, -EBADMSG, "no user name");
	if (unescape_user(v, vn, user))
		return srv_refuse(s, -EILSEQ, "malformed user name");
	if (!msg_attr(&m, 'r', &nonce, &nn) || !nonce_ok(nonce, nn))
		return srv_refuse(s, -EBADMSG, "malformed client nonce");
	if (m.end[-1] == ',')
		return srv_refuse(s, -EBADMSG, "trailing comma");
	/* Extensions: "key=value" each; unknown ones are ignored, but for
	 * Kafka's tokenauth=true (any case, Boolean.parseBoolean): the name
	 * is then a delegation token's id and the password its HMAC, which
	 * Kafka checks against its tokens, never its users. */
	while (m.p < m.end) {
		const char *comma = memchr(m.p, ',', (size_t)(m.end - m.p));
		const char *e = comma ? comma : m.end;
		const char *eq = memchr(m.p, '=', (size_t)(e - m.p));

		if (!eq || eq == m.p)
			return srv_refuse(s, -EBADMSG, "malformed extension");
		if (eq - m.p == 9 && !memcmp(m.p, "tokenauth", 9) && e - eq - 1 == 4 &&
		    !strncasecmp(eq + 1, "true", 4))
			s->token = true;
		m.p = comma ? comma + 1 : m.end;
	}
	if (authzid) {
		char az[SASL_MAX_USER + 1];

		if (unescape_user(authzid, authzid_len, az))
			return srv_refuse(s, -EILSEQ, "malformed authzid");
		if (strcmp(az, user)) {
			/* Kafka's SaslAuthenticationException: its own message,
			 * which tells nothing of the user (a function of the
			 * client's message alone). */
			s->client_msg = "Authentication failed: Client requested an authorization "
					"id that is different from username";
			return srv_refuse(s, -EOPNOTSUPP, "authzid differs from the user");
		}
	}
	if (s->token) {
		/* Kafka's ScramSaslServer refuses an unknown token at once
		 * (its SaslException at client-first): there is no user to
		 * hide, and whether a token id exists tells nothing without
		 * its HMAC. */
		rc = s->tokens ? s->tokens(s->tokens_arg, user, s->mech, &s->cred, s->owner,
					   sizeof(s->owner), &s->expiry_ms)
			       : -ENOENT;
		if (rc)
			return srv_refuse(s, -ENOENT,
					  "Token Authentication failed: Invalid tokenId");
	} else {
		rc = s->lookup(s->arg, user, s->mech, &s->cred);
		if (rc && rc != -ENOENT)
			return srv_refuse(s, rc, "credential lookup failed");
		if (rc)
			s->mock = "unknown user";
	}
	if (!s->mock && (s->cred.mech != s->mech || s->cred.iterations < SASL_MIN_ITERATIONS ||
			 s->cred.iterations > SASL_MAX_ITERATIONS || !s->cred.salt_len ||
			 s->cred.salt_len > SASL_MAX_SALT))
		s->mock = "unusable credential";
	if (s->mock && mock_cred(s->mech, user, &s->cred))
		return srv_refuse(s, -EIO, "hmac failed");
	if (!s->snonce[0] && random_nonce(s->snonce))
		return srv_refuse(s, -EIO, "no random bytes");

	strcpy(s->user, user);
	s->gs2_len = (size_t)(bare - in);
	memcpy(s->gs2, in, s->gs2_len);
	memcpy(s->first_bare, bare, (size_t)(m.end - bare));
	s->first_bare[m.end - bare] = 0;
	len = snprintf(s->nonce, sizeof(s->nonce), "%.*s%s", (int)nn, nonce, s->snonce);
	if (len < 0 || (size_t)len >= sizeof(s->nonce))
		return srv_refuse(s, -EMSGSIZE, "nonce too long");
	char salt[SASL_MAX_SALT * 2];
	b64_encode(s->cred.salt, s->cred.salt_len, salt);
	len = snprintf(s->out, sizeof(s->out), "r=%s,s=%s,i=%d", s->nonce, salt,
		       s->cred.iterations);
	if (len < 0 || (size_t)len >= sizeof(s->out))
		return srv_refuse(s, -EMSGSIZE, "server-first too long");
	s->state = SRV_WAIT_FINAL;
	return 0;
}

/* AuthMessage into buf (cap >= 3 * SASL_MAX_MSG + 3); its length. */
static size_t auth_message(char *buf, const char *first_bare, const char *server_first,
			   const char *final_np, size_t final_np_len)
{
	size_t a = strlen(first_bare), b = strlen(server_first), o = 0;

	memcpy(buf + o, first_bare, a);
	o += a;
	buf[o++] = ',';
	memcpy(buf + o, server_first, b);
	o += b;
	buf[o++] = ',';
	memcpy(buf + o, final_np, final_np_len);
	return o + final_np_len;
}

static int srv_final(struct sasl_server *s, const char *in, size_t n)
{
	struct msg m = { in, in + n };
	const char *v, *proof_at;
	size_t vn;
	uint8_t cb[SASL_MAX_MSG], proof[SASL_MAX_KEY_LEN + 3], sig[SASL_MAX_KEY_LEN];
	uint8_t ck[SASL_MAX_KEY_LEN], h[SASL_MAX_KEY_LEN], ssig[SASL_MAX_KEY_LEN];
	char am[3 * SASL_MAX_MSG + 3];
	size_t am_len, kl = sasl_key_len(s->mech);
	int len;

	if (!msg_attr(&m, 'c', &v, &vn))
		return srv_refuse(s, -EBADMSG, "no channel binding attribute");
	len = b64_decode(v, vn, cb, sizeof(cb));
	if (len < 0)
		return srv_refuse(s, -EBADMSG, "malformed channel binding");
	if ((size_t)len != s->gs2_len || memcmp(cb, s->gs2, s->gs2_len))
		return srv_refuse(s, -EBADE, "channel binding differs from the gs2 header");
	if (!msg_attr(&m, 'r', &v, &vn) || !nonce_ok(v, vn))
		return srv_refuse(s, -EBADMSG, "malformed nonce");
	/* Kafka's ScramSaslServer accepts a final nonce that ENDS with this
	 * exchange's nonce, not only one equal to it: librdkafka sends its
	 * client nonce again in front of the whole nonce the server gave it.
	 * The proof below covers the message as received, so the extra
	 * prefix cannot be altered by anyone without the password. */
	if (vn < strlen(s->nonce) || memcmp(v + vn - strlen(s->nonce), s->nonce, strlen(s->nonce)))
		return srv_refuse(s, -EPROTO, "nonce differs from this exchange's");
	/* Extensions, then the proof, which must come last. */
	for (;;) {
		proof_at = m.p;
		if (m.p >= m.end)
			return srv_refuse(s, -EBADMSG, "no proof");
		if (msg_attr(&m, 'p', &v, &vn))
			break;
		const char *comma = memchr(m.p, ',', (size_t)(m.end - m.p));
		const char *eq = memchr(m.p, '=', (size_t)((comma ? comma : m.end) - m.p));

		if (!comma || !eq || eq == m.p)
			return srv_refuse(s, -EBADMSG, "malformed extension");
		m.p = comma + 1;
	}
	if (m.p != m.end || m.end[-1] == ',')
		return srv_refuse(s, -EBADMSG, "attributes after the proof");
	if (b64_decode(v, vn, proof, sizeof(proof)) != (int)kl)
		return srv_refuse(s, -EBADMSG, "malformed proof");

	am_len = auth_message(am, s->first_bare, s->out, in, (size_t)(proof_at - in - 1));
	if (hmac(s->mech, s->cred.stored_key, kl, am, am_len, sig) ||
	    hmac(s->mech, s->cred.server_key, kl, am, am_len, ssig))
		return srv_refuse(s, -EIO, "hmac failed");
	for (size_t i = 0; i < kl; i++)
		ck[i] = proof[i] ^ sig[i];
	len = hash(s->mech, ck, kl, h);
	OPENSSL_cleanse(ck, sizeof(ck));
	if (len)
		return srv_refuse(s, -EIO, "hash failed");
	/* Refused here, after the same work as a real user's proof. */
	if (s->mock)
		return srv_refuse(s, -ENOENT, s->mock);
	if (CRYPTO_memcmp(h, s->cred.stored_key, kl))
		return srv_refuse(s, -EACCES, "invalid proof (wrong password)");
	memcpy(s->out, "v=", 2);
	b64_encode(ssig, kl, s->out + 2);
	s->state = SRV_DONE;
	s->reason = "";
	return 1;
}

int sasl_server_step(struct sasl_server *s, const uint8_t *in, size_t in_len, const char **out,
		     size_t *out_len)
{
	const char *msg = (const char *)in;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (s->state == SRV_DONE || s->state == SRV_FAILED)
		return srv_refuse(s, -EALREADY, "message after the exchange ended");
	if (in_len > SASL_MAX_MSG)
		return srv_refuse(s, -EMSGSIZE, "message too long");
	if (memchr(msg, 0, in_len))
		return srv_refuse(s, -EBADMSG, "NUL byte in message");
	rc = s->state == SRV_START ? srv_first(s, msg, in_len) : srv_final(s, msg, in_len);
	if (rc >= 0) {
		*out = s->out;
		*out_len = strlen(s->out);
	}
	return rc;
}

/* ---- client ---- */

enum cli_state { CLI_START, CLI_WAIT_FIRST, CLI_WAIT_FINAL, CLI_DONE, CLI_FAILED };

struct sasl_client {
	enum cli_state state;
	enum sasl_mech mech;
	char password[SASL_MAX_MSG + 1];
	char first_bare[SASL_MAX_MSG + 1];
	char cnonce[64];
	uint8_t server_sig[SASL_MAX_KEY_LEN];
	char out[3 * SASL_MAX_MSG];
	const char *reason;
};

int sasl_client_new(enum sasl_mech mech, const char *user, const char *password,
		    struct sasl_client **out)
{
	struct sasl_client *c;
	char esc[3 * SASL_MAX_USER + 1];

	if ((unsigned)mech >= SASL_N_MECH)
		return -EINVAL;
	if (escape_user(user, esc, sizeof(esc)) < 0)
		return -EILSEQ;
	if (strlen(password) > SASL_MAX_MSG)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->mech = mech;
	strcpy(c->password, password);
	snprintf(c->first_bare, sizeof(c->first_bare), "n=%s,r=", esc);
	c->reason = "";
	*out = c;
	return 0;
}

void sasl_client_free(struct sasl_client *c)
{
	if (!c)
		return;
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

int sasl_client_set_nonce(struct sasl_client *c, const char *nonce)
{
	if (!nonce_ok(nonce, strlen(nonce)) || strlen(nonce) >= sizeof(c->cnonce))
		return -EINVAL;
	strcpy(c->cnonce, nonce);
	return 0;
}

const char *sasl_client_reason(const struct sasl_client *c)
{
	return c->reason;
}

static int cli_refuse(struct sasl_client *c, int err, const char *reason)
{
	c->state = CLI_FAILED;
	c->reason = reason;
	return err;
}

/* server-first -> client-final. */
static int cli_final(struct sasl_client *c, const char *in, size_t n)
{
	struct msg m = { in, in + n };
	const char *nonce, *v;
	size_t nn, vn, cl = strlen(c->cnonce);
	uint8_t salt[SASL_MAX_SALT], ck[SASL_MAX_KEY_LEN], sk[SASL_MAX_KEY_LEN];
	uint8_t stored[SASL_MAX_KEY_LEN], sig[SASL_MAX_KEY_LEN], proof[SASL_MAX_KEY_LEN];
	char num[16], server_first[SASL_MAX_MSG + 1], am[3 * SASL_MAX_MSG + 3];
	char p64[SASL_MAX_KEY_LEN * 2];
	int salt_len, iterations, len, rc;
	size_t am_len, final_np, kl = sasl_key_len(c->mech);

	if (n >= 2 && in[0] == 'e' && in[1] == '=')
		return cli_refuse(c, -EACCES, "server refused");
	if (n >= 2 && in[0] == 'm' && in[1] == '=')
		return cli_refuse(c, -EOPNOTSUPP, "mandatory extension");
	if (!msg_attr(&m, 'r', &nonce, &nn) || !nonce_ok(nonce, nn))
		return cli_refuse(c, -EBADMSG, "malformed nonce");
	if (nn <= cl || memcmp(nonce, c->cnonce, cl))
		return cli_refuse(c, -EPROTO, "server nonce does not extend ours");
	if (!msg_attr(&m, 's', &v, &vn))
		return cli_refuse(c, -EBADMSG, "no salt");
	salt_len = b64_decode(v, vn, salt, sizeof(salt));
	if (salt_len <= 0)
		return cli_refuse(c, -EBADMSG, "malformed salt");
	if (!msg_attr(&m, 'i', &v, &vn) || !vn || vn >= sizeof(num) || strspn(v, "0123456789") < vn)
		return cli_refuse(c, -EBADMSG, "malformed iteration count");
	memcpy(num, v, vn);
	num[vn] = 0;
	iterations = atoi(num);
	if (vn > 6 || iterations < SASL_MIN_ITERATIONS || iterations > SASL_MAX_ITERATIONS)
		return cli_refuse(c, -EINVAL, "iteration count outside 4096..16384");

	memcpy(server_first, in, n);
	server_first[n] = 0;
	len = snprintf(c->out, sizeof(c->out), "c=biws,r=%.*s", (int)nn, nonce);
	final_np = (size_t)len;
	am_len = auth_message(am, c->first_bare, server_first, c->out, final_np);
	rc = derive(c->mech, c->password, salt, (size_t)salt_len, iterations, ck, sk);
	if (!rc)
		rc = hash(c->mech, ck, kl, stored);
	if (!rc)
		rc = hmac(c->mech, stored, kl, am, am_len, sig);
	if (!rc)
		rc = hmac(c->mech, sk, kl, am, am_len, c->server_sig);
	OPENSSL_cleanse(sk, sizeof(sk));
	if (rc) {
		OPENSSL_cleanse(ck, sizeof(ck));
		return cli_refuse(c, rc, "key derivation failed");
	}
	for (size_t i = 0; i < kl; i++)
		proof[i] = ck[i] ^ sig[i];
	OPENSSL_cleanse(ck, sizeof(ck));
	b64_encode(proof, kl, p64);
	snprintf(c->out + final_np, sizeof(c->out) - final_np, ",p=%s", p64);
	c->state = CLI_WAIT_FINAL;
	return 0;
}

static int cli_verify(struct sasl_client *c, const char *in, size_t n)
{
	struct msg m = { in, in + n };
	uint8_t sig[SASL_MAX_KEY_LEN + 3];
	int kl = (int)sasl_key_len(c->mech);
	const char *v;
	size_t vn;

	if (n >= 2 && in[0] == 'e' && in[1] == '=')
		return cli_refuse(c, -EACCES, "server refused the proof");
	if (!msg_attr(&m, 'v', &v, &vn) || m.p != m.end)
		return cli_refuse(c, -EBADMSG, "malformed server-final");
	if (b64_decode(v, vn, sig, sizeof(sig)) != kl ||
	    CRYPTO_memcmp(sig, c->server_sig, (size_t)kl))
		return cli_refuse(c, -EKEYREJECTED, "server signature is wrong");
	c->state = CLI_DONE;
	c->out[0] = 0;
	return 1;
}

int sasl_client_step(struct sasl_client *c, const uint8_t *in, size_t in_len, const char **out,
		     size_t *out_len)
{
	const char *msg = (const char *)in;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (c->state == CLI_DONE || c->state == CLI_FAILED)
		return cli_refuse(c, -EALREADY, "message after the exchange ended");
	if (c->state == CLI_START) {
		if (!c->cnonce[0] && random_nonce(c->cnonce))
			return cli_refuse(c, -EIO, "no random bytes");
		size_t fl = strlen(c->first_bare);

		snprintf(c->first_bare + fl, sizeof(c->first_bare) - fl, "%s", c->cnonce);
		snprintf(c->out, sizeof(c->out), "n,,%s", c->first_bare);
		c->state = CLI_WAIT_FIRST;
		*out = c->out;
		*out_len = strlen(c->out);
		return 0;
	}
	if (!in || in_len > SASL_MAX_MSG)
		return cli_refuse(c, -EMSGSIZE, "message too long");
	if (memchr(msg, 0, in_len))
		return cli_refuse(c, -EBADMSG, "NUL byte in message");
	rc = c->state == CLI_WAIT_FIRST ? cli_final(c, msg, in_len) : cli_verify(c, msg, in_len);
	*out = c->out;
	*out_len = rc >= 0 ? strlen(c->out) : 0;
	if (rc < 0)
		*out = NULL;
	return rc;
}
