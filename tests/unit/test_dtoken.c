/*
 * test_dtoken.c — delegation tokens (repl/dtoken.c): the HMAC against a
 * HmacSHA512 computed elsewhere (Python's hmac), the znode's document as
 * Kafka writes it (field order, sanitized principals) and every refusal
 * of its decoder, the cache's lookups by id and by HMAC, its SCRAM
 * credential (a SCRAM exchange with the token's id and base64 HMAC
 * passes), replacement, removal and the whole-read keep.
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

#include "repl/dtoken.h"
#include "repl/sasl.h"
#include "repl/zkdata.h"

/* hmac.new(b"secret-key", b"tok1", hashlib.sha512), base64. */
#define TOK1_HMAC_B64                                                                         \
	"YCt6ifggkqbAHZgLYcjN005FqJEtwNCOyfQXf3VyP9SLHkrB2EzIbi2yXz36vfyb8ewQXYoUuwvxo3mi9o5" \
	"ZsQ=="

static void test_hmac(void **state)
{
	uint8_t h[DTOKEN_HMAC_LEN];
	char b64[DTOKEN_HMAC_B64_LEN + 1];

	(void)state;
	assert_int_equal(dtoken_hmac("secret-key", "tok1", h), 0);
	assert_int_equal(h[0], 0x60);
	assert_int_equal(h[63], 0xb1);
	dtoken_hmac_b64(h, b64);
	assert_string_equal(b64, TOK1_HMAC_B64);
	assert_int_equal(strlen(b64), DTOKEN_HMAC_B64_LEN);
}

static void test_new_id(void **state)
{
	char a[64], b[64];

	(void)state;
	assert_int_equal(dtoken_new_id(a, sizeof(a)), 0);
	assert_int_equal(dtoken_new_id(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), ZK_UUID_LEN);
	assert_true(zk_uuid_valid(a));
	assert_string_not_equal(a, b);
	assert_int_equal(dtoken_new_id(a, ZK_UUID_LEN), -EIO);
}

static struct dtoken sample(void)
{
	static char *renewers[] = { "User:bob", "User:c d*" };

	return (struct dtoken){ .id = "tok1",
				.owner = "User:alice",
				.requester = "User:admin",
				.renewers = renewers,
				.n_renewers = 2,
				.issue_ms = 1700000000000,
				.max_ms = 1700604800000,
				.expiry_ms = 1700086400000 };
}

static void test_json(void **state)
{
	struct dtoken t = sample(), back;
	char why[ZK_WHY_LEN] = "", *s;

	(void)state;
	s = dtoken_json_encode(&t);
	assert_non_null(s);
	/* Kafka's toJsonCompatibleMap, Sanitizer.sanitize'd principals. */
	assert_string_equal(s, "{\"version\":3,\"owner\":\"User%3Aalice\","
			       "\"tokenRequester\":\"User%3Aadmin\","
			       "\"renewers\":[\"User%3Abob\",\"User%3Ac%20d%2A\"],"
			       "\"issueTimestamp\":1700000000000,\"maxTimestamp\":1700604800000,"
			       "\"expiryTimestamp\":1700086400000,\"tokenId\":\"tok1\"}");
	assert_int_equal(dtoken_json_decode(s, strlen(s), "tok1", &back, why), 0);
	assert_string_equal(back.id, "tok1");
	assert_string_equal(back.owner, "User:alice");
	assert_string_equal(back.requester, "User:admin");
	assert_int_equal(back.n_renewers, 2);
	assert_string_equal(back.renewers[1], "User:c d*");
	assert_true(back.issue_ms == 1700000000000);
	assert_true(back.max_ms == 1700604800000);
	assert_true(back.expiry_ms == 1700086400000);
	dtoken_clear(&back);
	/* Another znode's name. */
	assert_int_equal(dtoken_json_decode(s, strlen(s), "tok2", &back, why), -EBADMSG);
	free(s);

	/* Version 1 and 2: no tokenRequester, the owner is. */
	const char *v1 = "{\"version\":1,\"owner\":\"User%3Aalice\",\"renewers\":[],"
			 "\"issueTimestamp\":1,\"maxTimestamp\":3,\"expiryTimestamp\":2,"
			 "\"tokenId\":\"x\"}";
	assert_int_equal(dtoken_json_decode(v1, strlen(v1), NULL, &back, why), 0);
	assert_string_equal(back.requester, "User:alice");
	assert_int_equal(back.n_renewers, 0);
	dtoken_clear(&back);

	static const char *const bad[] = {
		"[]",
		"{\"version\":4,\"owner\":\"User%3Aa\",\"tokenRequester\":\"User%3Aa\","
		"\"renewers\":[],\"issueTimestamp\":1,\"maxTimestamp\":3,\"expiryTimestamp\":2,"
		"\"tokenId\":\"x\"}",
		"{\"version\":3,\"owner\":\"alice\",\"tokenRequester\":\"User%3Aa\","
		"\"renewers\":[],\"issueTimestamp\":1,\"maxTimestamp\":3,\"expiryTimestamp\":2,"
		"\"tokenId\":\"x\"}",
		"{\"version\":3,\"owner\":\"User%3Aa\",\"renewers\":[],\"issueTimestamp\":1,"
		"\"maxTimestamp\":3,\"expiryTimestamp\":2,\"tokenId\":\"x\"}",
		"{\"version\":3,\"owner\":\"User%3Aa\",\"tokenRequester\":\"User%3Aa\","
		"\"renewers\":\"User%3Ab\",\"issueTimestamp\":1,\"maxTimestamp\":3,"
		"\"expiryTimestamp\":2,\"tokenId\":\"x\"}",
		"{\"version\":3,\"owner\":\"User%3Aa\",\"tokenRequester\":\"User%3Aa\","
		"\"renewers\":[],\"issueTimestamp\":\"1\",\"maxTimestamp\":3,"
		"\"expiryTimestamp\":2,\"tokenId\":\"x\"}",
		"{\"version\":3,\"owner\":\"User%3Aa\",\"tokenRequester\":\"User%3Aa\","
		"\"renewers\":[],\"issueTimestamp\":1,\"maxTimestamp\":3,\"expiryTimestamp\":2}",
		"{\"version\":3,\"owner\":\"User%ZZa\",\"tokenRequester\":\"User%3Aa\","
		"\"renewers\":[],\"issueTimestamp\":1,\"maxTimestamp\":3,\"expiryTimestamp\":2,"
		"\"tokenId\":\"x\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		if (dtoken_json_decode(bad[i], strlen(bad[i]), NULL, &back, why) != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
		assert_true(why[0] != '\0');
		assert_null(back.id);
	}
}

static void test_checks(void **state)
{
	struct dtoken t = sample();
	const char *type, *name;
	size_t tl, nl;

	(void)state;
	assert_true(dtoken_owner_or_renewer(&t, "User:alice"));
	assert_true(dtoken_owner_or_renewer(&t, "User:bob"));
	assert_false(dtoken_owner_or_renewer(&t, "User:admin")); /* the requester is not */
	assert_false(dtoken_owner_or_renewer(&t, "User:ali"));
	assert_false(dtoken_expired(&t, t.expiry_ms));
	assert_true(dtoken_expired(&t, t.expiry_ms + 1));
	t.max_ms = t.issue_ms;
	assert_true(dtoken_expired(&t, t.issue_ms + 1));
	assert_int_equal(dtoken_principal_split("User:a:b", &type, &tl, &name, &nl), 0);
	assert_int_equal(tl, 4);
	assert_string_equal(name, "a:b");
	assert_int_equal(dtoken_principal_split("User", &type, &tl, &name, &nl), -EINVAL);
	/* Empty parts, as Kafka's split(":", 2) gives them. */
	assert_int_equal(dtoken_principal_split(":a", &type, &tl, &name, &nl), 0);
	assert_int_equal(tl, 0);
	assert_int_equal(dtoken_principal_split("User:", &type, &tl, &name, &nl), 0);
	assert_int_equal(nl, 0);
}

/* The server's lookup of the exchange below: the token's credential. */
static int token_lookup(void *arg, const char *user, enum sasl_mech mech, struct sasl_cred *cred)
{
	char owner[64];
	int64_t expiry;

	return dtoken_store_cred(arg, user, mech, cred, owner, sizeof(owner), &expiry);
}

/* A whole SCRAM exchange, id and password as a client sends them. */
static int exchange_mech(struct dtoken_store *s, enum sasl_mech mech, const char *id,
			 const char *password)
{
	struct sasl_server *srv;
	struct sasl_client *cli;
	const char *out, *sout;
	size_t n, sn;
	int rc;

	assert_int_equal(sasl_server_new(mech, token_lookup, s, &srv), 0);
	assert_int_equal(sasl_client_new(mech, id, password, &cli), 0);
	rc = sasl_client_step(cli, NULL, 0, &out, &n);
	if (rc == 0)
		rc = sasl_server_step(srv, (const uint8_t *)out, n, &sout, &sn);
	if (rc == 0)
		rc = sasl_client_step(cli, (const uint8_t *)sout, sn, &out, &n);
	if (rc == 0)
		rc = sasl_server_step(srv, (const uint8_t *)out, n, &sout, &sn);
	sasl_client_free(cli);
	sasl_server_free(srv);
	return rc;
}

static int exchange(struct dtoken_store *s, const char *id, const char *password)
{
	return exchange_mech(s, SASL_SHA_256, id, password);
}

static void test_store(void **state)
{
	struct dtoken_store *s;
	struct dtoken t = sample(), got, *all;
	struct sasl_cred cred;
	uint8_t h[DTOKEN_HMAC_LEN], *hmacs;
	char owner[64], b64[DTOKEN_HMAC_B64_LEN + 1];
	int64_t expiry = 0;
	int n;

	(void)state;
	assert_int_equal(dtoken_store_new("secret-key", &s), 0);
	assert_int_equal(
		dtoken_store_cred(s, "tok1", SASL_SHA_256, &cred, owner, sizeof(owner), &expiry),
		-ENOENT);
	assert_int_equal(dtoken_store_put(s, &t), 0);
	t.id = "tok0";
	t.owner = "User:zed";
	assert_int_equal(dtoken_store_put(s, &t), 0);
	assert_int_equal(dtoken_store_count(s), 2);

	/* By id: the owner's name and a credential of 4096 iterations. */
	assert_int_equal(
		dtoken_store_cred(s, "tok1", SASL_SHA_256, &cred, owner, sizeof(owner), &expiry),
		0);
	assert_string_equal(owner, "alice");
	assert_true(expiry == 1700086400000);
	assert_int_equal(cred.iterations, SASL_MIN_ITERATIONS);
	assert_int_equal(dtoken_store_cred(s, "tok1", SASL_SHA_256, &cred, owner, 5, &expiry),
			 -ENOENT);
	/* An owner without a name authenticates no one. */
	t.id = "tokE";
	t.owner = "User:";
	assert_int_equal(dtoken_store_put(s, &t), 0);
	assert_int_equal(
		dtoken_store_cred(s, "tokE", SASL_SHA_256, &cred, owner, sizeof(owner), &expiry),
		-ENOENT);
	assert_int_equal(dtoken_store_remove(s, "tokE"), 1);

	/* The password is the base64 HMAC: the exchange passes; another
	 * token's HMAC, or the id of none, does not. */
	assert_int_equal(exchange(s, "tok1", TOK1_HMAC_B64), 1);
	assert_int_equal(exchange(s, "tok0", TOK1_HMAC_B64), -EACCES);
	assert_int_equal(exchange(s, "tok9", TOK1_HMAC_B64), -ENOENT);
	/* A token has a credential of each mechanism, as Kafka's
	 * DelegationTokenManager keeps: SCRAM-SHA-512 logs it in too. */
	assert_int_equal(
		dtoken_store_cred(s, "tok1", SASL_SHA_512, &cred, owner, sizeof(owner), &expiry),
		0);
	assert_int_equal(cred.mech, SASL_SHA_512);
	assert_int_equal(cred.iterations, SASL_MIN_ITERATIONS);
	assert_int_equal(exchange_mech(s, SASL_SHA_512, "tok1", TOK1_HMAC_B64), 1);
	assert_int_equal(exchange_mech(s, SASL_SHA_512, "tok0", TOK1_HMAC_B64), -EACCES);
	assert_int_equal(exchange_mech(s, SASL_SHA_512, "tok9", TOK1_HMAC_B64), -ENOENT);

	/* By HMAC. */
	assert_int_equal(dtoken_store_hmac(s, "tok1", h), 0);
	dtoken_hmac_b64(h, b64);
	assert_string_equal(b64, TOK1_HMAC_B64);
	assert_int_equal(dtoken_store_by_hmac(s, h, sizeof(h), &got), 0);
	assert_string_equal(got.id, "tok1");
	assert_string_equal(got.owner, "User:alice");
	dtoken_clear(&got);
	assert_int_equal(dtoken_store_by_hmac(s, h, sizeof(h) - 1, &got), -ENOENT);
	h[5] ^= 1;
	assert_int_equal(dtoken_store_by_hmac(s, h, sizeof(h), &got), -ENOENT);

	/* A put of the same id replaces (a renewal). */
	t = sample();
	t.expiry_ms = 42;
	assert_int_equal(dtoken_store_put(s, &t), 0);
	n = dtoken_store_list(s, &all, &hmacs);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].id, "tok0"); /* sorted */
	assert_string_equal(all[1].id, "tok1");
	assert_true(all[1].expiry_ms == 42);
	assert_int_equal(hmacs[DTOKEN_HMAC_LEN], 0x60);
	dtoken_list_free(all, hmacs, n);

	/* Removal, and a whole read that no longer lists tok0. */
	char *keep[] = { "tok1", "other" };
	assert_int_equal(dtoken_store_keep(s, keep, 2), 1);
	assert_int_equal(
		dtoken_store_cred(s, "tok0", SASL_SHA_256, &cred, owner, sizeof(owner), &expiry),
		-ENOENT);
	assert_int_equal(dtoken_store_remove(s, "tok1"), 1);
	assert_int_equal(dtoken_store_remove(s, "tok1"), 0);
	assert_int_equal(dtoken_store_count(s), 0);
	assert_int_equal(exchange(s, "tok1", TOK1_HMAC_B64), -ENOENT);
	dtoken_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmac),  cmocka_unit_test(test_new_id),
		cmocka_unit_test(test_json),  cmocka_unit_test(test_checks),
		cmocka_unit_test(test_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
