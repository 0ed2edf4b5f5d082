/*
 * test_sasl.c — SCRAM-SHA-256 and SCRAM-SHA-512 (repl/sasl.c): RFC 7677's
 * exchange byte for byte (both sides, with the RFC's nonces), the same
 * exchange over SHA-512 against values computed outside sasl.c, Kafka's
 * credential text of both mechanisms, and
 * every refusal of sasl.h with its errno: wrong password, nonce mismatch,
 * replays, malformed attributes, escaped user names, channel binding, a
 * server that does not know the password.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "repl/proto.h"
#include "repl/sasl.h"

/* RFC 7677 section 3. */
#define RFC_CNONCE      "rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE      "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_FIRST       "n,,n=user,r=" RFC_CNONCE
#define RFC_SFIRST      "r=" RFC_CNONCE RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_FINAL_PROOF "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_FINAL       "c=biws,r=" RFC_CNONCE RFC_SNONCE ",p=" RFC_FINAL_PROOF
#define RFC_SFINAL      "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

/* The RFC 7677 exchange (same nonces, salt, password "pencil") over
 * SHA-512 (SCRAM-SHA-512), its proof, signature and keys computed with
 * Python's hashlib from RFC 5802's definitions, not with sasl.c. */
#define SHA512_FINAL_PROOF                                                       \
	"gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6d" \
	"ybEmDYXYTxwnYPJQ=="
#define SHA512_FINAL "c=biws,r=" RFC_CNONCE RFC_SNONCE ",p=" SHA512_FINAL_PROOF
#define SHA512_SFINAL                                                              \
	"v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXn" \
	"Jq199RVG2rR7N7Zw=="
#define SHA512_STORED                                                              \
	"6AAub3065EYRmyFpM2RNwqK+eGnrkYuEWbXn19LsEmBqzu8QaCXNc1FwpnX9NhH2hK/60dzj" \
	"9DoO5DvVkOHbvg=="
#define SHA512_SERVER                                                              \
	"jZHbYjC1aHh0/hKbxyBuGFjDrgjgKTT1esA7awWiKcRZ0o/0b1yWEebBeSVkkCFewf91nLDf" \
	"KF24mvD5nmE6rA=="

static const uint8_t rfc_salt[] = {
	0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
	0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81,
};

/* The user database of a test: one user and its credential. */
struct db {
	const char *user;
	struct sasl_cred cred;
	char seen[300]; /* the user name the server looked up */
};

static int lookup(void *arg, const char *user, enum sasl_mech mech, struct sasl_cred *cred)
{
	struct db *db = arg;

	snprintf(db->seen, sizeof(db->seen), "%s", user);
	if (strcmp(user, db->user) || mech != db->cred.mech)
		return -ENOENT;
	*cred = db->cred;
	return 0;
}

static void db_init_mech(struct db *db, enum sasl_mech mech, const char *user, const char *password)
{
	db->user = user;
	db->seen[0] = 0;
	assert_int_equal(sasl_cred_from_password(mech, password, rfc_salt, sizeof(rfc_salt), 4096,
						 &db->cred),
			 0);
}

static void db_init(struct db *db, const char *user, const char *password)
{
	db_init_mech(db, SASL_SHA_256, user, password);
}

static struct sasl_server *server_mech(struct db *db, enum sasl_mech mech)
{
	struct sasl_server *s;

	assert_int_equal(sasl_server_new(mech, lookup, db, &s), 0);
	assert_int_equal(sasl_server_set_nonce(s, RFC_SNONCE), 0);
	return s;
}

static struct sasl_server *server(struct db *db)
{
	return server_mech(db, SASL_SHA_256);
}

static int sstep(struct sasl_server *s, const char *msg, const char **out)
{
	size_t n;

	return sasl_server_step(s, (const uint8_t *)msg, strlen(msg), out, &n);
}

static int cstep(struct sasl_client *c, const char *msg, const char **out)
{
	size_t n;

	return sasl_client_step(c, (const uint8_t *)msg, msg ? strlen(msg) : 0, out, &n);
}

static void test_rfc7677_server(void **state)
{
	struct db db;
	struct sasl_server *s;
	const char *out;

	(void)state;
	db_init(&db, "user", "pencil");
	s = server(&db);
	assert_int_equal(sstep(s, RFC_FIRST, &out), 0);
	assert_string_equal(out, RFC_SFIRST);
	assert_null(sasl_server_user(s));
	assert_int_equal(sstep(s, RFC_FINAL, &out), 1);
	assert_string_equal(out, RFC_SFINAL);
	assert_string_equal(sasl_server_user(s), "user");
	/* The same client-final again, on the finished exchange. */
	assert_int_equal(sstep(s, RFC_FINAL, &out), -EALREADY);
	assert_int_equal(sasl_kafka_error(-EALREADY), PROTO_ERR_ILLEGAL_SASL_STATE);
	sasl_server_free(s);
}

static void test_rfc7677_client(void **state)
{
	struct sasl_client *c;
	const char *out;

	(void)state;
	assert_int_equal(sasl_client_new(SASL_SHA_256, "user", "pencil", &c), 0);
	assert_int_equal(sasl_client_set_nonce(c, RFC_CNONCE), 0);
	assert_int_equal(cstep(c, NULL, &out), 0);
	assert_string_equal(out, RFC_FIRST);
	assert_int_equal(cstep(c, RFC_SFIRST, &out), 0);
	assert_string_equal(out, RFC_FINAL);
	assert_int_equal(cstep(c, RFC_SFINAL, &out), 1);
	assert_int_equal(cstep(c, RFC_SFINAL, &out), -EALREADY);
	sasl_client_free(c);
}

/* The same exchange with SCRAM-SHA-512: 64-byte proof and signature. */
static void test_sha512_exchange(void **state)
{
	struct db db;
	struct sasl_server *s;
	struct sasl_client *c;
	const char *out;

	(void)state;
	db_init_mech(&db, SASL_SHA_512, "user", "pencil");
	s = server_mech(&db, SASL_SHA_512);
	assert_int_equal(sstep(s, RFC_FIRST, &out), 0);
	assert_string_equal(out, RFC_SFIRST);
	assert_int_equal(sstep(s, SHA512_FINAL, &out), 1);
	assert_string_equal(out, SHA512_SFINAL);
	assert_string_equal(sasl_server_user(s), "user");
	sasl_server_free(s);

	assert_int_equal(sasl_client_new(SASL_SHA_512, "user", "pencil", &c), 0);
	assert_int_equal(sasl_client_set_nonce(c, RFC_CNONCE), 0);
	assert_int_equal(cstep(c, NULL, &out), 0);
	assert_string_equal(out, RFC_FIRST);
	assert_int_equal(cstep(c, RFC_SFIRST, &out), 0);
	assert_string_equal(out, SHA512_FINAL);
	assert_int_equal(cstep(c, SHA512_SFINAL, &out), 1);
	sasl_client_free(c);
	/* A server signature of SCRAM-SHA-256's length does not prove it. */
	assert_int_equal(sasl_client_new(SASL_SHA_512, "user", "pencil", &c), 0);
	assert_int_equal(sasl_client_set_nonce(c, RFC_CNONCE), 0);
	assert_int_equal(cstep(c, NULL, &out), 0);
	assert_int_equal(cstep(c, RFC_SFIRST, &out), 0);
	assert_int_equal(cstep(c, RFC_SFINAL, &out), -EKEYREJECTED);
	sasl_client_free(c);

	/* SCRAM-SHA-256's proof to a SCRAM-SHA-512 exchange is malformed
	 * (32 bytes, not 64); a SCRAM-SHA-512 proof to SCRAM-SHA-256 too. */
	s = server_mech(&db, SASL_SHA_512);
	assert_int_equal(sstep(s, RFC_FIRST, &out), 0);
	assert_int_equal(sstep(s, RFC_FINAL, &out), -EBADMSG);
	sasl_server_free(s);
	db_init(&db, "user", "pencil");
	s = server(&db);
	assert_int_equal(sstep(s, RFC_FIRST, &out), 0);
	assert_int_equal(sstep(s, SHA512_FINAL, &out), -EBADMSG);
	sasl_server_free(s);
}

/* A user with a credential of one mechanism only is unknown to the
 * other: answered with a made-up salt and refused at client-final. The
 * made-up salts of the two mechanisms differ, as a real user's do. */
static void test_mechanism_of_credential(void **state)
{
	struct db db;
	struct sasl_server *s;
	const char *out;
	char first256[256];

	(void)state;
	db_init(&db, "user", "pencil"); /* SCRAM-SHA-256 only */
	s = server_mech(&db, SASL_SHA_512);
	assert_int_equal(sstep(s, RFC_FIRST, &out), 0);
	assert_string_not_equal(out, RFC_SFIRST);
	assert_int_equal(sstep(s, SHA512_FINAL, &out), -ENOENT);
	assert_string_equal(sasl_server_reason(s), "unknown user");
	sasl_server_free(s);

	s = server(&db);
	assert_int_equal(sstep(s, "n,,n=nobody,r=abc", &out), 0);
	snprintf(first256, sizeof(first256), "%s", out);
	sasl_server_free(s);
	s = server_mech(&db, SASL_SHA_512);
	assert_int_equal(sstep(s, "n,,n=nobody,r=abc", &out), 0);
	assert_int_equal(strlen(out), strlen(first256));
	assert_string_not_equal(out, first256);
	sasl_server_free(s);

	assert_int_equal(sasl_server_new(SASL_N_MECH, lookup, &db, &s), -EINVAL);
	assert_int_equal(sasl_client_new(SASL_N_MECH, "user", "pencil", NULL), -EINVAL);
}

static void test_mechanism_names(void **state)
{
	enum sasl_mech m = SASL_N_MECH;

	(void)state;
	assert_string_equal(sasl_mech_name(SASL_SHA_256), "SCRAM-SHA-256");
	assert_string_equal(sasl_mech_name(SASL_SHA_512), "SCRAM-SHA-512");
	assert_int_equal(sasl_mech_of("SCRAM-SHA-512", 13, &m), 0);
	assert_int_equal(m, SASL_SHA_512);
	assert_int_equal(sasl_mech_of("SCRAM-SHA-256", 13, &m), 0);
	assert_int_equal(m, SASL_SHA_256);
	/* Kafka's handshake compares names exactly. */
	assert_int_equal(sasl_mech_of("scram-sha-512", 13, &m), -ENOENT);
	assert_int_equal(sasl_mech_of("SCRAM-SHA-51", 12, &m), -ENOENT);
	assert_int_equal(sasl_mech_of("SCRAM-SHA-1", 11, &m), -ENOENT);
	assert_int_equal(sasl_key_len(SASL_SHA_256), 32);
	assert_int_equal(sasl_key_len(SASL_SHA_512), 64);
}

/* librdkafka's client-final repeats its client nonce in front of the
 * whole nonce ("c=biws,r=" cnonce + cnonce snonce); Kafka's server accepts
 * a final nonce that ends with the exchange's. The proof here is computed
 * with OpenSSL from RFC 5802's definitions, over that message as sent. */
/* client-final for password "pencil" (RFC salt, 4096 iterations): wo
 * and its proof over bare, server-first and wo, computed with OpenSSL from
 * RFC 5802's definitions, not with sasl.c. */
static void final_with_proof(const char *bare, const char *sfirst, const char *wo, char *final,
			     size_t cap)
{
	uint8_t sp[32], ck[32], sk[32], sig[32], proof[32];
	unsigned int len;
	char am[1024], b64[64];

	snprintf(am, sizeof(am), "%s,%s,%s", bare, sfirst, wo);
	assert_int_equal(PKCS5_PBKDF2_HMAC("pencil", 6, rfc_salt, sizeof(rfc_salt), 4096,
					   EVP_sha256(), sizeof(sp), sp),
			 1);
	assert_non_null(
		HMAC(EVP_sha256(), sp, sizeof(sp), (const uint8_t *)"Client Key", 10, ck, &len));
	SHA256(ck, sizeof(ck), sk);
	assert_non_null(
		HMAC(EVP_sha256(), sk, sizeof(sk), (const uint8_t *)am, strlen(am), sig, &len));
	for (int i = 0; i < 32; i++)
		proof[i] = ck[i] ^ sig[i];
	assert_int_equal(EVP_EncodeBlock((uint8_t *)b64, proof, sizeof(proof)), 44);
	snprintf(final, cap, "%s,p=%s", wo, b64);
}

static void test_librdkafka_final_nonce(void **state)
{
	struct db db;
	struct sasl_server *s;
	const char *out;
	char wo[256], final[512];
	const char *bare = RFC_FIRST + 3;

	(void)state;
	db_init(&db, "user", "pencil");
	s = server(&db);
	assert_int_equal(sstep(s, RFC_FIRST, &out), 0);
	assert_string_equal(out, RFC_SFIRST);
	snprintf(wo, sizeof(wo), "c=biws,r=%s%s%s", RFC_CNONCE, RFC_CNONCE, RFC_SNONCE);
	final_with_proof(bare, RFC_SFIRST, wo, final, sizeof(final));
	assert_int_equal(sstep(s, final, &out), 1);
	sasl_server_free(s);

	/* Still refused: a final nonce that does not end with the exchange's. */
	s = server(&db);
	assert_int_equal(sstep(s, RFC_FIRST, &out), 0);
	snprintf(final, sizeof(final), "c=biws,r=%s%sX,p=%s", RFC_CNONCE, RFC_SNONCE,
		 RFC_FINAL_PROOF);
	assert_int_equal(sstep(s, final, &out), -EPROTO);
	sasl_server_free(s);
}

/* Client against server with random nonces; 1 when both sides agree. */
static int exchange(struct db *db, const char *user, const char *password, int *srv_rc)
{
	struct sasl_server *s;
	struct sasl_client *c;
	const char *cout, *sout;
	size_t cn, sn;
	int rc;

	assert_int_equal(sasl_server_new(SASL_SHA_256, lookup, db, &s), 0);
	assert_int_equal(sasl_client_new(SASL_SHA_256, user, password, &c), 0);
	assert_int_equal(sasl_client_step(c, NULL, 0, &cout, &cn), 0);
	*srv_rc = sasl_server_step(s, (const uint8_t *)cout, cn, &sout, &sn);
	if (*srv_rc == 0) {
		assert_int_equal(sasl_client_step(c, (const uint8_t *)sout, sn, &cout, &cn), 0);
		*srv_rc = sasl_server_step(s, (const uint8_t *)cout, cn, &sout, &sn);
	}
	rc = *srv_rc == 1 ? sasl_client_step(c, (const uint8_t *)sout, sn, &cout, &cn) : *srv_rc;
	sasl_client_free(c);
	sasl_server_free(s);
	return rc;
}

static void test_random_nonces_and_passwords(void **state)
{
	struct db db;
	int srv;

	(void)state;
	db_init(&db, "broker-1", "s3cret");
	assert_int_equal(exchange(&db, "broker-1", "s3cret", &srv), 1);
	assert_int_equal(srv, 1);
	assert_int_equal(exchange(&db, "broker-1", "s3cres", &srv), -EACCES);
	assert_int_equal(sasl_kafka_error(srv), PROTO_ERR_SASL_AUTHENTICATION_FAILED);
	assert_int_equal(exchange(&db, "broker-2", "s3cret", &srv), -ENOENT);
	/* Random salt: another credential for the same password works too. */
	assert_int_equal(sasl_cred_from_password(SASL_SHA_256, "s3cret", NULL, 0, 4096, &db.cred),
			 0);
	assert_int_equal(db.cred.salt_len, 32);
	assert_int_equal(exchange(&db, "broker-1", "s3cret", &srv), 1);
}

/* An unknown user's client-first is answered as a known one's, with a
 * salt that is the same on every attempt, and the exchange is refused at
 * client-final with the error a wrong password gets: the answers do not
 * tell which users exist. */
static void test_unknown_user(void **state)
{
	struct db db;
	struct sasl_server *s;
	const char *out;
	char first[256];
	int srv;

	(void)state;
	db_init(&db, "user", "pencil");
	s = server(&db);
	assert_int_equal(sstep(s, "n,,n=nobody,r=abc", &out), 0);
	assert_string_equal(db.seen, "nobody");
	snprintf(first, sizeof(first), "%s", out);
	/* r=, s= of 32 bytes (44 base64), i= as a user --add-scram-user made. */
	assert_int_equal(strncmp(first, "r=abc" RFC_SNONCE ",s=", 5 + strlen(RFC_SNONCE) + 3), 0);
	assert_int_equal(strlen(first), 5 + strlen(RFC_SNONCE) + 3 + 44 + 7);
	assert_string_equal(first + strlen(first) - 7, ",i=4096");
	sasl_server_free(s);
	s = server(&db);
	assert_int_equal(sstep(s, "n,,n=nobody,r=abc", &out), 0);
	assert_string_equal(out, first);
	sasl_server_free(s);
	s = server(&db);
	assert_int_equal(sstep(s, "n,,n=nobody2,r=abc", &out), 0);
	assert_string_not_equal(out, first);
	sasl_server_free(s);
	/* The key comes from a secret the brokers share: the same secret,
	 * the same salt (on every broker); another, another salt. */
	char with_k1[256];
	assert_int_equal(sasl_mock_secret_set("k1"), 0);
	s = server(&db);
	assert_int_equal(sstep(s, "n,,n=nobody,r=abc", &out), 0);
	snprintf(with_k1, sizeof(with_k1), "%s", out);
	assert_string_not_equal(with_k1, first);
	sasl_server_free(s);
	assert_int_equal(sasl_mock_secret_set("k2"), 0);
	s = server(&db);
	assert_int_equal(sstep(s, "n,,n=nobody,r=abc", &out), 0);
	assert_string_not_equal(out, with_k1);
	sasl_server_free(s);
	assert_int_equal(sasl_mock_secret_set("k1"), 0);
	s = server(&db);
	assert_int_equal(sstep(s, "n,,n=nobody,r=abc", &out), 0);
	assert_string_equal(out, with_k1);
	sasl_server_free(s);

	/* Whatever the password: refused at client-final, as a wrong one. */
	assert_int_equal(exchange(&db, "nobody", "pencil", &srv), -ENOENT);
	assert_int_equal(exchange(&db, "user", "pencil2", &srv), -EACCES);
	assert_int_equal(sasl_kafka_error(-ENOENT), sasl_kafka_error(-EACCES));
	/* A malformed client-final is still refused as malformed. */
	s = server(&db);
	assert_int_equal(sstep(s, "n,,n=nobody,r=abc", &out), 0);
	assert_int_equal(sstep(s, "c=biws,r=abc" RFC_SNONCE, &out), -EBADMSG);
	sasl_server_free(s);
	/* The refusal says why, for the log. */
	s = server(&db);
	assert_int_equal(sstep(s, "n,,n=nobody,r=abc", &out), 0);
	assert_int_equal(sstep(s, "c=biws,r=abc" RFC_SNONCE ",p=" RFC_FINAL_PROOF, &out), -ENOENT);
	assert_string_equal(sasl_server_reason(s), "unknown user");
	assert_null(sasl_server_user(s));
	sasl_server_free(s);
}

/* The tokens of test_tokenauth: "tok" (the password "pencil", the
 * RFC's salt) owned by alice. */
static int tokens(void *arg, const char *id, enum sasl_mech mech, struct sasl_cred *cred,
		  char *owner, size_t size, int64_t *expiry_ms)
{
	struct db *db = arg;

	if (strcmp(id, "tok") || mech != db->cred.mech)
		return -ENOENT;
	*cred = db->cred;
	snprintf(owner, size, "alice");
	*expiry_ms = 1700000000000;
	return 0;
}

/* A whole exchange of client-first first with a server that has the
 * tokens (the RFC's nonces, password "pencil"): the final step's result,
 * the server in *sp for the caller to look at and free. */
static int token_exchange(struct db *db, const char *first, struct sasl_server **sp)
{
	char sfirst[256], wo[256], final[512];
	const char *out;
	struct sasl_server *s = server(db);

	sasl_server_set_tokens(s, tokens, db);
	*sp = s;
	assert_int_equal(sstep(s, first, &out), 0);
	snprintf(sfirst, sizeof(sfirst), "%s", out);
	snprintf(wo, sizeof(wo), "c=biws,r=%s%s", RFC_CNONCE, RFC_SNONCE);
	final_with_proof(first + 3, sfirst, wo, final, sizeof(final));
	return sstep(s, final, &out);
}

/* Kafka's tokenauth=true extension asks for a delegation token (its id
 * as the name, its HMAC as the password): checked against the tokens,
 * never the users, and the principal is the token's owner. A token id
 * no token has, or a server without tokens, is refused at client-first
 * (Kafka's ScramSaslServer), even for a user's right password. */
static void test_tokenauth(void **state)
{
	static const char *const ext[] = { "tokenauth=true", "tokenauth=TRUE" };
	struct db db;
	struct sasl_server *s;
	const char *out;
	char first[256], wo[256], final[512];

	(void)state;
	db_init(&db, "user", "pencil");
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		/* No tokens here: refused at once. */
		snprintf(first, sizeof(first), "%s,%s", RFC_FIRST, ext[i]);
		s = server(&db);
		assert_int_equal(sstep(s, first, &out), -ENOENT);
		assert_string_equal(sasl_server_reason(s),
				    "Token Authentication failed: Invalid tokenId");
		assert_null(sasl_server_client_message(s));
		assert_null(sasl_server_user(s));
		sasl_server_free(s);
		/* With tokens: a user's name is no token. */
		s = server(&db);
		sasl_server_set_tokens(s, tokens, &db);
		assert_int_equal(sstep(s, first, &out), -ENOENT);
		sasl_server_free(s);
		/* The token: authenticated as its owner. */
		snprintf(first, sizeof(first), "n,,n=tok,r=%s,%s", RFC_CNONCE, ext[i]);
		assert_int_equal(token_exchange(&db, first, &s), 1);
		assert_string_equal(sasl_server_user(s), "alice");
		assert_true(sasl_server_token(s));
		assert_true(sasl_server_token_expiry(s) == 1700000000000);
		sasl_server_free(s);
	}
	/* Without the extension the token id is a user name like any. */
	snprintf(first, sizeof(first), "n,,n=tok,r=%s", RFC_CNONCE);
	assert_int_equal(token_exchange(&db, first, &s), -ENOENT); /* unknown user */
	assert_false(sasl_server_token(s));
	assert_true(sasl_server_token_expiry(s) == -1);
	sasl_server_free(s);
	/* Other values, and other extensions, change nothing. */
	snprintf(first, sizeof(first), "%s,tokenauth=false,foo=bar", RFC_FIRST);
	s = server(&db);
	assert_int_equal(sstep(s, first, &out), 0);
	assert_string_equal(out, RFC_SFIRST);
	snprintf(wo, sizeof(wo), "c=biws,r=%s%s", RFC_CNONCE, RFC_SNONCE);
	final_with_proof(first + 3, RFC_SFIRST, wo, final, sizeof(final));
	assert_int_equal(sstep(s, final, &out), 1);
	assert_string_equal(sasl_server_user(s), "user");
	assert_false(sasl_server_token(s));
	sasl_server_free(s);
}

static void test_escaped_user(void **state)
{
	struct db db;
	struct sasl_server *s;
	struct sasl_client *c;
	const char *out;
	int srv;

	(void)state;
	db_init(&db, "a,b=c", "pw");
	assert_int_equal(sasl_client_new(SASL_SHA_256, "a,b=c", "pw", &c), 0);
	assert_int_equal(sasl_client_set_nonce(c, "abc"), 0);
	assert_int_equal(cstep(c, NULL, &out), 0);
	assert_string_equal(out, "n,,n=a=2Cb=3Dc,r=abc");
	sasl_client_free(c);
	assert_int_equal(exchange(&db, "a,b=c", "pw", &srv), 1);
	assert_string_equal(db.seen, "a,b=c");

	/* '=' followed by anything but 2C or 3D, and an empty name. */
	static const char *const bad[] = {
		"n,,n=a=2Xb,r=abc", "n,,n=a=,r=abc", "n,,n=a=3,r=abc",
		"n,,n=a=2c,r=abc",  "n,,n=,r=abc",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = server(&db);
		assert_int_equal(sstep(s, bad[i], &out), -EILSEQ);
		assert_true(strlen(sasl_server_reason(s)) > 0);
		/* Refused once, refused for good. */
		assert_int_equal(sstep(s, RFC_FIRST, &out), -EALREADY);
		sasl_server_free(s);
	}
}

static void test_malformed_client_first(void **state)
{
	static const struct {
		const char *msg;
		int err;
	} cases[] = {
		{ "", -EBADMSG },
		{ "n", -EBADMSG },
		{ "n,", -EBADMSG },
		{ "x,,n=user,r=abc", -EBADMSG },
		{ "n,,r=abc,n=user", -EBADMSG },         /* order */
		{ "n,,n=user", -EBADMSG },               /* no nonce */
		{ "n,,n=user,r=", -EBADMSG },            /* empty nonce */
		{ "n,,n=user,r=ab\x7f", -EBADMSG },      /* not printable */
		{ "n,,n=user,r=abc,", -EBADMSG },        /* trailing comma */
		{ "n,,n=user,r=abc,novalue", -EBADMSG }, /* extension without '=' */
		{ "n,a,n=user,r=abc", -EBADMSG },        /* authzid without a= */
		{ "p=tls-unique,,n=user,r=abc", -EOPNOTSUPP },
		{ "n,,m=ext,n=user,r=abc", -EOPNOTSUPP },
		{ "n,a=other,n=user,r=abc", -EOPNOTSUPP },
		{ "n,a=us=2Xer,n=user,r=abc", -EILSEQ }, /* authzid badly escaped */
	};
	struct db db;
	const char *out;

	(void)state;
	db_init(&db, "user", "pencil");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sasl_server *s = server(&db);

		assert_int_equal(sstep(s, cases[i].msg, &out), cases[i].err);
		assert_null(out);
		/* Kafka's own words to the client for an authzid of another
		 * user only; the standard ones (NULL) for the rest. */
		if (!strncmp(cases[i].msg, "n,a=other,", 10))
			assert_string_equal(sasl_server_client_message(s),
					    "Authentication failed: Client requested an "
					    "authorization id that is different from username");
		else
			assert_null(sasl_server_client_message(s));
		sasl_server_free(s);
	}
	/* Accepted: "y" flag, authzid equal to the user, Kafka's extensions. */
	static const char *const good[] = {
		"y,,n=user,r=abc",
		"n,a=user,n=user,r=abc",
		"n,,n=user,r=abc,tokenauth=false,foo=bar",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct sasl_server *s = server(&db);

		assert_int_equal(sstep(s, good[i], &out), 0);
		sasl_server_free(s);
	}
	/* A NUL byte inside and an oversized message. */
	struct sasl_server *s = server(&db);
	size_t n;
	assert_int_equal(sasl_server_step(s, (const uint8_t *)"n,,n=us\0er,r=a", 14, &out, &n),
			 -EBADMSG);
	sasl_server_free(s);
	char *big = malloc(SASL_MAX_MSG + 2);
	memset(big, 'a', SASL_MAX_MSG + 1);
	big[SASL_MAX_MSG + 1] = 0;
	memcpy(big, "n,,n=user,r=", 12);
	s = server(&db);
	assert_int_equal(sstep(s, big, &out), -EMSGSIZE);
	sasl_server_free(s);
	free(big);
}

static void test_malformed_client_final(void **state)
{
	static const struct {
		const char *msg;
		int err;
	} cases[] = {
		{ "r=" RFC_CNONCE RFC_SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		  -EBADMSG },
		{ "c=bi!s,r=" RFC_CNONCE RFC_SNONCE ",p=x", -EBADMSG },
		{ "c=eSws,r=" RFC_CNONCE RFC_SNONCE
		  ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		  -EBADE }, /* "y,," */
		{ "c=biws,r=" RFC_CNONCE "XX"
		  ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		  -EPROTO },
		{ "c=biws,r=" RFC_CNONCE RFC_SNONCE, -EBADMSG },           /* no proof */
		{ "c=biws,r=" RFC_CNONCE RFC_SNONCE ",p=dHzb", -EBADMSG }, /* short */
		{ "c=biws,r=" RFC_CNONCE RFC_SNONCE
		  ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1",
		  -EBADMSG },
		{ "c=biws,r=" RFC_CNONCE RFC_SNONCE
		  ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,",
		  -EBADMSG },
		{ "c=biws,r=" RFC_CNONCE RFC_SNONCE
		  ",p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		  -EACCES }, /* one bit */
	};
	struct db db;
	const char *out;

	(void)state;
	db_init(&db, "user", "pencil");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sasl_server *s = server(&db);

		assert_int_equal(sstep(s, RFC_FIRST, &out), 0);
		assert_int_equal(sstep(s, cases[i].msg, &out), cases[i].err);
		assert_null(sasl_server_user(s));
		sasl_server_free(s);
	}
}

static void test_replay_to_new_exchange(void **state)
{
	struct db db;
	struct sasl_server *s;
	const char *out;

	(void)state;
	db_init(&db, "user", "pencil");
	/* A recorded exchange replayed to a server that picks a fresh nonce:
	 * the client-final names the old nonce and is refused. */
	assert_int_equal(sasl_server_new(SASL_SHA_256, lookup, &db, &s), 0);
	assert_int_equal(sstep(s, RFC_FIRST, &out), 0);
	assert_non_null(strstr(out, RFC_CNONCE));
	assert_null(strstr(out, RFC_SNONCE));
	assert_int_equal(sstep(s, RFC_FINAL, &out), -EPROTO);
	sasl_server_free(s);
}

static void test_client_refusals(void **state)
{
	static const struct {
		const char *msg;
		int err;
	} first[] = {
		{ "r=other" RFC_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EPROTO },
		{ "r=" RFC_CNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EPROTO },
		{ "r=" RFC_CNONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000", -EINVAL },
		{ "r=" RFC_CNONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999", -EINVAL },
		{ "r=" RFC_CNONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096", -EBADMSG },
		{ "r=" RFC_CNONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-4096", -EBADMSG },
		{ "r=" RFC_CNONCE "x,i=4096", -EBADMSG },
		{ "e=unknown-user", -EACCES },
		{ "m=x,r=" RFC_CNONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", -EOPNOTSUPP },
	};
	static const struct {
		const char *msg;
		int err;
	} final[] = {
		{ "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", -EKEYREJECTED },
		{ "v=6rriTRBi23WpRR", -EKEYREJECTED },
		{ "e=invalid-proof", -EACCES },
		{ "x=1", -EBADMSG },
	};
	struct sasl_client *c;
	const char *out;

	(void)state;
	for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
		assert_int_equal(sasl_client_new(SASL_SHA_256, "user", "pencil", &c), 0);
		assert_int_equal(sasl_client_set_nonce(c, RFC_CNONCE), 0);
		assert_int_equal(cstep(c, NULL, &out), 0);
		assert_int_equal(cstep(c, first[i].msg, &out), first[i].err);
		assert_true(strlen(sasl_client_reason(c)) > 0);
		sasl_client_free(c);
	}
	for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++) {
		assert_int_equal(sasl_client_new(SASL_SHA_256, "user", "pencil", &c), 0);
		assert_int_equal(sasl_client_set_nonce(c, RFC_CNONCE), 0);
		assert_int_equal(cstep(c, NULL, &out), 0);
		assert_int_equal(cstep(c, RFC_SFIRST, &out), 0);
		assert_int_equal(cstep(c, final[i].msg, &out), final[i].err);
		sasl_client_free(c);
	}
	assert_int_equal(sasl_client_new(SASL_SHA_256, "", "pencil", &c), -EILSEQ);
}

static void test_credentials(void **state)
{
	struct sasl_cred a, b;
	char text[512];
	int n;

	(void)state;
	assert_int_equal(sasl_cred_from_password(SASL_SHA_256, "pencil", rfc_salt, sizeof(rfc_salt),
						 4096, &a),
			 0);
	n = sasl_cred_format(&a, text, sizeof(text));
	assert_true(n > 0);
	assert_int_equal(
		strncmp(text, "SCRAM-SHA-256=[salt=W22ZaJ0SNY7soEsUEjb6gQ==,stored_key=", 55), 0);
	assert_non_null(strstr(text, ",iterations=4096]"));
	assert_int_equal(sasl_cred_parse(SASL_SHA_256, text, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* Bare form, fields in another order. */
	char bare[512];
	const char *sk = strstr(text, "stored_key="), *vk = strstr(text, "server_key=");
	snprintf(bare, sizeof(bare), "iterations=4096,%.*s,salt=W22ZaJ0SNY7soEsUEjb6gQ==,%.*s",
		 (int)(strchr(sk, ',') - sk), sk, (int)(strchr(vk, ',') - vk), vk);
	assert_int_equal(sasl_cred_parse(SASL_SHA_256, bare, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* An iteration count that only wraps into the range in 32 bits. */
	char wrapped[512];
	snprintf(wrapped, sizeof(wrapped), "%.*s4294971392]",
		 (int)(strstr(text, "iterations=") + 11 - text), text);
	assert_int_equal(sasl_cred_parse(SASL_SHA_256, wrapped, &b), -EINVAL);
	snprintf(wrapped, sizeof(wrapped), "%.*s004096]",
		 (int)(strstr(text, "iterations=") + 11 - text), text);
	assert_int_equal(sasl_cred_parse(SASL_SHA_256, wrapped, &b), 0);
	assert_int_equal(b.iterations, 4096);
	assert_int_equal(sasl_cred_format(&a, text, 20), -ENOSPC);
	assert_int_equal(sasl_cred_parse(SASL_SHA_256, "salt=W22ZaJ0SNY7soEsUEjb6gQ==", &b),
			 -EINVAL);
	assert_int_equal(sasl_cred_parse(SASL_SHA_256, "SCRAM-SHA-256=[salt=W22Z]", &b), -EINVAL);
	assert_int_equal(
		sasl_cred_from_password(SASL_SHA_256, "p", rfc_salt, sizeof(rfc_salt), 100, &b),
		-EINVAL);
	assert_int_equal(sasl_cred_from_password(SASL_SHA_256, "p", rfc_salt, 0, 4096, &b),
			 -EINVAL);
	n = snprintf(text, sizeof(text),
		     "salt=W22ZaJ0SNY7soEsUEjb6gQ==,stored_key=AAAA,"
		     "server_key=AAAA,iterations=4096");
	assert_int_equal(sasl_cred_parse(SASL_SHA_256, text, &b), -EINVAL);

	/* From the salted password a client sends (AlterUserScramCredentials):
	 * the same credential as from the password, Hi(password, salt, i) as
	 * RFC 7677's example gives it. */
	static const uint8_t rfc_salted[32] = {
		0xc4, 0xa4, 0x95, 0x10, 0x32, 0x3a, 0xb4, 0xf9, 0x52, 0xca, 0xc1,
		0xfa, 0x99, 0x44, 0x19, 0x39, 0xe7, 0x8e, 0xa7, 0x4d, 0x6b, 0xe8,
		0x1d, 0xdf, 0x70, 0x96, 0xe8, 0x75, 0x13, 0xdc, 0x61, 0x5d,
	};
	assert_int_equal(sasl_cred_from_salted(SASL_SHA_256, rfc_salted, sizeof(rfc_salted),
					       rfc_salt, sizeof(rfc_salt), 4096, &b),
			 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(sasl_cred_from_salted(SASL_SHA_256, rfc_salted, 31, rfc_salt,
					       sizeof(rfc_salt), 4096, &b),
			 -EINVAL);
	assert_int_equal(sasl_cred_from_salted(SASL_SHA_256, rfc_salted, 32, rfc_salt, 0, 4096, &b),
			 -EINVAL);
	assert_int_equal(sasl_cred_from_salted(SASL_SHA_256, rfc_salted, 32, rfc_salt,
					       sizeof(rfc_salt), 20000, &b),
			 -EINVAL);
}

/* Kafka's text of a SCRAM-SHA-512 credential (64-byte keys), from the
 * password and from the salted password a client sends, against keys
 * computed outside sasl.c. */
static void test_credentials_sha512(void **state)
{
	struct sasl_cred a, b;
	char text[512], want[512];

	(void)state;
	assert_int_equal(sasl_cred_from_password(SASL_SHA_512, "pencil", rfc_salt, sizeof(rfc_salt),
						 4096, &a),
			 0);
	assert_int_equal(a.mech, SASL_SHA_512);
	assert_true(sasl_cred_format(&a, text, sizeof(text)) > 0);
	snprintf(want, sizeof(want),
		 "SCRAM-SHA-512=[salt=W22ZaJ0SNY7soEsUEjb6gQ==,stored_key=" SHA512_STORED
		 ",server_key=" SHA512_SERVER ",iterations=4096]");
	assert_string_equal(text, want);
	assert_int_equal(sasl_cred_parse(SASL_SHA_512, text, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* Bare, as the znode holds it under "SCRAM-SHA-512". */
	text[strlen(text) - 1] = '\0';
	assert_int_equal(sasl_cred_parse(SASL_SHA_512, strchr(text, '[') + 1, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* The wrong mechanism: its name, or its keys' length. */
	text[strlen(text)] = ']';
	assert_int_equal(sasl_cred_parse(SASL_SHA_256, text, &b), -EINVAL);
	assert_int_equal(sasl_cred_from_password(SASL_SHA_256, "pencil", rfc_salt, sizeof(rfc_salt),
						 4096, &b),
			 0);
	assert_true(sasl_cred_format(&b, text, sizeof(text)) > 0);
	assert_int_equal(sasl_cred_parse(SASL_SHA_512, strchr(text, '[') + 1, &a), -EINVAL);

	/* Hi(password, salt, i) over HMAC-SHA-512, 64 bytes. */
	static const uint8_t salted[64] = {
		0xf1, 0x6e, 0xfe, 0x1b, 0xe6, 0x7f, 0x1d, 0x09, 0x50, 0x2e, 0xbd, 0x5e, 0xd9,
		0x26, 0x2f, 0xdd, 0xff, 0xba, 0x5a, 0x37, 0x7a, 0xb4, 0xf0, 0xb6, 0x87, 0xe5,
		0xed, 0x5b, 0xa0, 0xf5, 0x06, 0x86, 0xb8, 0xa4, 0xae, 0x16, 0x64, 0x76, 0xda,
		0x8a, 0xb3, 0xb9, 0x51, 0xd2, 0xfa, 0x92, 0x38, 0xb6, 0x39, 0x98, 0xf4, 0x54,
		0x61, 0xbc, 0x33, 0xa4, 0x64, 0x81, 0x49, 0x49, 0xce, 0xc9, 0x63, 0x1d,
	};
	assert_int_equal(sasl_cred_from_password(SASL_SHA_512, "pencil", rfc_salt, sizeof(rfc_salt),
						 4096, &a),
			 0);
	assert_int_equal(sasl_cred_from_salted(SASL_SHA_512, salted, sizeof(salted), rfc_salt,
					       sizeof(rfc_salt), 4096, &b),
			 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* SCRAM-SHA-256's length for SCRAM-SHA-512, and the reverse. */
	assert_int_equal(sasl_cred_from_salted(SASL_SHA_512, salted, 32, rfc_salt, sizeof(rfc_salt),
					       4096, &b),
			 -EINVAL);
	assert_int_equal(sasl_cred_from_salted(SASL_SHA_256, salted, 64, rfc_salt, sizeof(rfc_salt),
					       4096, &b),
			 -EINVAL);
	assert_int_equal(sasl_cred_from_salted(SASL_SHA_512, salted, 64, rfc_salt, sizeof(rfc_salt),
					       4095, &b),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7677_server),
		cmocka_unit_test(test_rfc7677_client),
		cmocka_unit_test(test_sha512_exchange),
		cmocka_unit_test(test_mechanism_of_credential),
		cmocka_unit_test(test_mechanism_names),
		cmocka_unit_test(test_credentials_sha512),
		cmocka_unit_test(test_random_nonces_and_passwords),
		cmocka_unit_test(test_librdkafka_final_nonce),
		cmocka_unit_test(test_unknown_user),
		cmocka_unit_test(test_tokenauth),
		cmocka_unit_test(test_escaped_user),
		cmocka_unit_test(test_malformed_client_first),
		cmocka_unit_test(test_malformed_client_final),
		cmocka_unit_test(test_replay_to_new_exchange),
		cmocka_unit_test(test_client_refusals),
		cmocka_unit_test(test_credentials),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
