/*
 * test_acl.c — Kafka's AclAuthorizer rule (repl/acl.h), with cases
 * carried over from Kafka's AclAuthorizerTest (deny wins, super users,
 * allow.everyone.if.no.acl.found, wildcard resources and principals,
 * prefixed patterns, implied operations, hosts, authorizeByResourceType),
 * the binding and filter checks of CreateAcls / DeleteAcls, and the
 * znodes' documents as Kafka writes and reads them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/acl.h"
#include "repl/cluster_config.h"
#include "repl/zkdata.h"

#define ALICE "User:alice"
#define BOB   "User:bob"
#define H1    "192.168.1.1"
#define H2    "192.168.1.2"

static struct acl_entry binding(int rtype, int pattern, const char *name, const char *principal,
				const char *host, int op, int perm)
{
	struct acl_entry e = { (int8_t)rtype, (int8_t)pattern,   (int8_t)op,  (int8_t)perm,
			       strdup(name),  strdup(principal), strdup(host) };

	assert_non_null(e.resource_name);
	return e;
}

/* A store holding the n bindings given (taken over). */
static struct acl_store *store_of(bool allow_everyone, const char *supers, struct acl_entry *v,
				  int n)
{
	struct acl_store *s;
	struct acl_entry *copy = calloc((size_t)n + 1, sizeof(*copy));
	char why[128];

	assert_non_null(copy);
	if (n)
		memcpy(copy, v, (size_t)n * sizeof(*v));
	assert_int_equal(acl_store_new(supers, "broker", allow_everyone, why, sizeof(why), &s), 0);
	acl_store_replace(s, copy, n);
	return s;
}

static bool topic_ok(struct acl_store *s, const char *p, const char *h, int op, const char *t)
{
	return acl_authorize(s, p, h, op, ACL_RES_TOPIC, t);
}

/* testTopicAcl: allows per principal and host; a deny for one host wins
 * over the allow from everywhere. */
static void test_topic_acl(void **state)
{
	struct acl_entry v[] = {
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", ALICE, H1, ACL_OP_READ,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", ALICE, H2, ACL_OP_READ,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", ALICE, "*", ACL_OP_WRITE,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", ALICE, H2, ACL_OP_WRITE,
			ACL_PERM_DENY),
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", BOB, "*", ACL_OP_ALL, ACL_PERM_ALLOW),
	};
	struct acl_store *s = store_of(false, "", v, 5);

	(void)state;
	assert_true(topic_ok(s, ALICE, H1, ACL_OP_READ, "t"));
	assert_true(topic_ok(s, ALICE, H2, ACL_OP_READ, "t"));
	assert_false(topic_ok(s, ALICE, "10.0.0.1", ACL_OP_READ, "t")); /* another host */
	assert_true(topic_ok(s, ALICE, H1, ACL_OP_WRITE, "t"));
	assert_false(topic_ok(s, ALICE, H2, ACL_OP_WRITE, "t")); /* deny wins */
	assert_false(topic_ok(s, ALICE, H1, ACL_OP_DELETE, "t"));
	assert_true(topic_ok(s, BOB, H2, ACL_OP_DELETE, "t")); /* ALL */
	assert_false(topic_ok(s, "User:carol", H1, ACL_OP_READ, "t"));
	/* Another topic has no ACL: refused without allow.everyone. */
	assert_false(topic_ok(s, ALICE, H1, ACL_OP_READ, "u"));
	acl_store_free(s);
}

/* testDenyTakesPrecedence, testAllowAllAccess, testSuperUserHasAccess. */
static void test_deny_super_wildcard_principal(void **state)
{
	struct acl_entry v[] = {
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", "User:*", "*", ACL_OP_ALL,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", BOB, "*", ACL_OP_ALL, ACL_PERM_DENY),
	};
	struct acl_store *s = store_of(false, "User:admin; User:root", v, 2);

	(void)state;
	assert_true(topic_ok(s, ALICE, H1, ACL_OP_WRITE, "t")); /* User:* */
	assert_true(topic_ok(s, ACL_ANONYMOUS, H1, ACL_OP_READ, "t"));
	assert_false(topic_ok(s, BOB, H1, ACL_OP_READ, "t")); /* deny ALL wins */
	assert_true(topic_ok(s, "User:admin", H1, ACL_OP_READ, "t"));
	assert_true(topic_ok(s, "User:root", H1, ACL_OP_READ, "no-acl"));
	/* The brokers' user is always a super user. */
	assert_true(acl_super_user(s, "User:broker"));
	assert_true(acl_authorize(s, "User:broker", H1, ACL_OP_CLUSTER_ACTION, ACL_RES_CLUSTER,
				  ACL_CLUSTER_NAME));
	assert_false(acl_authorize(s, ALICE, H1, ACL_OP_CLUSTER_ACTION, ACL_RES_CLUSTER,
				   ACL_CLUSTER_NAME));
	acl_store_free(s);
}

/* testNoAclFound, testNoAclFoundOverride: allow.everyone.if.no.acl.found
 * applies to a resource without any ACL, not to one whose ACLs name
 * others. */
static void test_no_acl_found(void **state)
{
	struct acl_entry v[] = {
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", BOB, "*", ACL_OP_READ, ACL_PERM_ALLOW),
	};
	struct acl_store *s = store_of(true, "", v, 1), *strict = store_of(false, "", NULL, 0);

	(void)state;
	assert_true(topic_ok(s, ALICE, H1, ACL_OP_READ, "other"));
	assert_false(topic_ok(s, ALICE, H1, ACL_OP_READ, "t"));
	assert_false(topic_ok(strict, ALICE, H1, ACL_OP_READ, "other"));
	acl_store_free(s);
	acl_store_free(strict);
}

/* testAclInheritance: ALL implies every operation; DESCRIBE is implied
 * by READ, WRITE, DELETE, ALTER; DESCRIBE_CONFIGS by ALTER_CONFIGS; no
 * other implication. */
static void test_implied_operations(void **state)
{
	static const int describers[] = { ACL_OP_READ, ACL_OP_WRITE, ACL_OP_DELETE, ACL_OP_ALTER };

	(void)state;
	for (size_t i = 0; i < sizeof(describers) / sizeof(describers[0]); i++) {
		struct acl_entry v[] = { binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", ALICE, "*",
						 describers[i], ACL_PERM_ALLOW) };
		struct acl_store *s = store_of(false, "", v, 1);

		assert_true(topic_ok(s, ALICE, H1, ACL_OP_DESCRIBE, "t"));
		assert_false(topic_ok(s, ALICE, H1, ACL_OP_DESCRIBE_CONFIGS, "t"));
		acl_store_free(s);
	}
	struct acl_entry v[] = {
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", ALICE, "*", ACL_OP_ALTER_CONFIGS,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "a", ALICE, "*", ACL_OP_ALL,
			ACL_PERM_ALLOW),
		/* A deny of READ does not deny DESCRIBE (Kafka's rule). */
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "d", ALICE, "*", ACL_OP_WRITE,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "d", ALICE, "*", ACL_OP_READ,
			ACL_PERM_DENY),
	};
	struct acl_store *s = store_of(false, "", v, 4);

	assert_true(topic_ok(s, ALICE, H1, ACL_OP_DESCRIBE_CONFIGS, "t"));
	assert_false(topic_ok(s, ALICE, H1, ACL_OP_DESCRIBE, "t"));
	assert_false(topic_ok(s, ALICE, H1, ACL_OP_READ, "t"));
	for (int op = ACL_OP_READ; op <= ACL_OP_ALTER_CONFIGS; op++)
		assert_true(topic_ok(s, ALICE, H1, op, "a"));
	assert_true(topic_ok(s, ALICE, H1, ACL_OP_DESCRIBE, "d"));
	assert_false(topic_ok(s, ALICE, H1, ACL_OP_READ, "d"));
	acl_store_free(s);
}

/* testWildCardAcls, testAccessAllowedIfAllowAclExistsOnPrefixedResource,
 * testDeleteAclOnPrefixedResource's rule: LITERAL "*" covers every name of
 * the type, PREFIXED every name it starts, and a deny of either wins. */
static void test_wildcard_and_prefixed(void **state)
{
	struct acl_entry v[] = {
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "*", ALICE, "*", ACL_OP_READ,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_PREFIXED, "orders-", BOB, "*", ACL_OP_WRITE,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_PREFIXED, "orders-secret", BOB, "*", ACL_OP_WRITE,
			ACL_PERM_DENY),
		binding(ACL_RES_GROUP, ACL_PAT_PREFIXED, "g", ALICE, "*", ACL_OP_READ,
			ACL_PERM_ALLOW),
	};
	struct acl_store *s = store_of(false, "", v, 4);

	(void)state;
	assert_true(topic_ok(s, ALICE, H1, ACL_OP_READ, "anything"));
	assert_false(topic_ok(s, ALICE, H1, ACL_OP_WRITE, "anything"));
	assert_true(topic_ok(s, BOB, H1, ACL_OP_WRITE, "orders-1"));
	assert_false(topic_ok(s, BOB, H1, ACL_OP_WRITE, "orders-secret-1"));
	assert_false(topic_ok(s, BOB, H1, ACL_OP_WRITE, "order")); /* not the prefix */
	/* Another resource type is another world. */
	assert_true(acl_authorize(s, ALICE, H1, ACL_OP_READ, ACL_RES_GROUP, "g1"));
	assert_false(acl_authorize(s, ALICE, H1, ACL_OP_READ, ACL_RES_GROUP, "h"));
	acl_store_free(s);
}

/* testAuthorizeByResourceTypeNoAclFoundOverride and friends: WRITE on
 * some topic (an idempotent producer), unless a deny covers it. */
static void test_authorize_any(void **state)
{
	struct acl_entry v[] = {
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", ALICE, "*", ACL_OP_WRITE,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_PREFIXED, "p", BOB, "*", ACL_OP_WRITE,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "*", BOB, "*", ACL_OP_WRITE, ACL_PERM_DENY),
	};
	struct acl_store *s = store_of(false, "", v, 3), *open = store_of(true, "", NULL, 0);

	(void)state;
	assert_true(acl_authorize_any(s, ALICE, H1, ACL_OP_WRITE, ACL_RES_TOPIC));
	assert_false(acl_authorize_any(s, ALICE, H1, ACL_OP_READ, ACL_RES_TOPIC));
	assert_false(acl_authorize_any(s, BOB, H1, ACL_OP_WRITE, ACL_RES_TOPIC));
	assert_false(acl_authorize_any(s, "User:carol", H1, ACL_OP_WRITE, ACL_RES_TOPIC));
	assert_true(acl_authorize_any(s, "User:broker", H1, ACL_OP_WRITE, ACL_RES_TOPIC));
	assert_true(acl_authorize_any(open, ALICE, H1, ACL_OP_WRITE, ACL_RES_TOPIC));
	acl_store_free(s);
	acl_store_free(open);
}

/* authorizeByResourceType with allow.everyone.if.no.acl.found: allowed
 * whatever ACLs the type has (a deny of one topic, another's allow),
 * unless a LITERAL "*" deny; an allow that a deny does not cover whole
 * allows (a PREFIXED deny covers the longer prefixes and names it
 * starts). */
static void test_authorize_any_denies(void **state)
{
	struct acl_entry v[] = {
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", ALICE, "*", ACL_OP_WRITE,
			ACL_PERM_DENY),
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "u", BOB, "*", ACL_OP_READ, ACL_PERM_ALLOW),
	};
	struct acl_entry w[] = {
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "*", ALICE, "*", ACL_OP_ALL, ACL_PERM_DENY),
	};
	struct acl_entry x[] = {
		binding(ACL_RES_TOPIC, ACL_PAT_PREFIXED, "ab", ALICE, "*", ACL_OP_WRITE,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "abc", ALICE, "*", ACL_OP_WRITE,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_PREFIXED, "a", ALICE, "*", ACL_OP_WRITE,
			ACL_PERM_DENY),
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "z", BOB, "*", ACL_OP_WRITE,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_PREFIXED, "zz", BOB, "*", ACL_OP_WRITE,
			ACL_PERM_DENY),
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "*", "User:carol", "*", ACL_OP_WRITE,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_PREFIXED, "c", "User:carol", "*", ACL_OP_WRITE,
			ACL_PERM_DENY),
	};
	struct acl_store *open = store_of(true, "", v, 2), *shut = store_of(true, "", w, 1),
			 *s = store_of(false, "", x, 7);

	(void)state;
	assert_true(acl_authorize_any(open, ALICE, H1, ACL_OP_WRITE, ACL_RES_TOPIC));
	assert_true(acl_authorize_any(open, "User:carol", H1, ACL_OP_WRITE, ACL_RES_TOPIC));
	assert_false(acl_authorize_any(shut, ALICE, H1, ACL_OP_WRITE, ACL_RES_TOPIC));
	assert_true(acl_authorize_any(shut, BOB, H1, ACL_OP_WRITE, ACL_RES_TOPIC));
	assert_false(acl_authorize_any(s, ALICE, H1, ACL_OP_WRITE, ACL_RES_TOPIC));
	assert_true(acl_authorize_any(s, BOB, H1, ACL_OP_WRITE, ACL_RES_TOPIC));
	assert_true(acl_authorize_any(s, "User:carol", H1, ACL_OP_WRITE, ACL_RES_TOPIC));
	acl_store_free(open);
	acl_store_free(shut);
	acl_store_free(s);
}

/* The authorized-operations bit fields (Metadata, DescribeGroups). */
static void test_authorized_ops(void **state)
{
	struct acl_entry v[] = {
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", ALICE, "*", ACL_OP_READ,
			ACL_PERM_ALLOW),
		binding(ACL_RES_GROUP, ACL_PAT_LITERAL, "g", ALICE, "*", ACL_OP_ALL,
			ACL_PERM_ALLOW),
	};
	struct acl_store *s = store_of(false, "", v, 2);

	(void)state;
	assert_int_equal(acl_authorized_ops(s, ALICE, H1, ACL_RES_TOPIC, "t"),
			 (1 << ACL_OP_READ) | (1 << ACL_OP_DESCRIBE));
	assert_int_equal(acl_authorized_ops(s, ALICE, H1, ACL_RES_GROUP, "g"),
			 (1 << ACL_OP_READ) | (1 << ACL_OP_DESCRIBE) | (1 << ACL_OP_DELETE));
	assert_int_equal(acl_authorized_ops(s, BOB, H1, ACL_RES_TOPIC, "t"), 0);
	acl_store_free(s);
}

/* Replacing one resource's bindings (a change notice) leaves the rest. */
static void test_set_resource(void **state)
{
	struct acl_entry v[] = {
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", ALICE, "*", ACL_OP_READ,
			ACL_PERM_ALLOW),
		binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "u", ALICE, "*", ACL_OP_READ,
			ACL_PERM_ALLOW),
	};
	struct acl_store *s = store_of(false, "", v, 2);
	struct acl_entry *nv = calloc(2, sizeof(*nv)), *found;
	struct acl_entry any = { ACL_RES_ANY, ACL_PAT_ANY, ACL_OP_ANY, ACL_PERM_ANY,
				 NULL,        NULL,        NULL };

	(void)state;
	nv[0] = binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", BOB, "*", ACL_OP_READ, ACL_PERM_ALLOW);
	acl_store_set_resource(s, ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", nv, 1);
	assert_false(topic_ok(s, ALICE, H1, ACL_OP_READ, "t"));
	assert_true(topic_ok(s, BOB, H1, ACL_OP_READ, "t"));
	assert_true(topic_ok(s, ALICE, H1, ACL_OP_READ, "u"));
	acl_store_set_resource(s, ACL_RES_TOPIC, ACL_PAT_LITERAL, "u", NULL, 0);
	assert_int_equal(acl_store_find(s, &any, &found), 1);
	assert_string_equal(found[0].principal, BOB);
	acl_entries_free(found, 1);
	acl_store_free(s);
}

/* super.users' form, as Kafka splits it. */
static void test_super_users_parse(void **state)
{
	struct acl_store *s;
	char why[128] = "";

	(void)state;
	assert_int_equal(acl_store_new("User:a;;User:b ", "", false, why, sizeof(why), &s), 0);
	assert_true(acl_super_user(s, "User:a"));
	assert_true(acl_super_user(s, "User:b"));
	assert_false(acl_super_user(s, "User:"));
	acl_store_free(s);
	assert_int_equal(acl_store_new("alice", "", false, why, sizeof(why), &s), -EINVAL);
	assert_non_null(strstr(why, "alice"));
	assert_null(s);
}

/* The filters of DescribeAcls / DeleteAcls (ResourcePatternFilter and
 * AccessControlEntryFilter's matches). */
static void test_filter_matches(void **state)
{
	struct acl_entry lit = binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", ALICE, "*", ACL_OP_READ,
				       ACL_PERM_ALLOW);
	struct acl_entry wild = binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "*", ALICE, "*",
					ACL_OP_READ, ACL_PERM_ALLOW);
	struct acl_entry pre = binding(ACL_RES_TOPIC, ACL_PAT_PREFIXED, "t", ALICE, "*",
				       ACL_OP_READ, ACL_PERM_DENY);
	struct acl_entry f = {
		ACL_RES_ANY, ACL_PAT_ANY, ACL_OP_ANY, ACL_PERM_ANY, NULL, NULL, NULL
	};

	(void)state;
	assert_true(acl_filter_matches(&f, &lit) && acl_filter_matches(&f, &pre));
	f.resource_name = "t";
	assert_true(acl_filter_matches(&f, &lit) && acl_filter_matches(&f, &pre));
	assert_false(acl_filter_matches(&f, &wild)); /* ANY: the name itself */
	f.pattern_type = ACL_PAT_MATCH;
	f.resource_name = "tx";
	assert_false(acl_filter_matches(&f, &lit));
	assert_true(acl_filter_matches(&f, &wild) && acl_filter_matches(&f, &pre));
	f.pattern_type = ACL_PAT_PREFIXED;
	f.resource_name = "t";
	assert_false(acl_filter_matches(&f, &lit));
	assert_true(acl_filter_matches(&f, &pre));
	f.pattern_type = ACL_PAT_ANY;
	f.resource_name = NULL;
	f.permission = ACL_PERM_DENY;
	assert_false(acl_filter_matches(&f, &lit));
	f.permission = ACL_PERM_ANY;
	f.principal = BOB;
	assert_false(acl_filter_matches(&f, &lit));
	f.principal = NULL;
	f.resource_type = ACL_RES_GROUP;
	assert_false(acl_filter_matches(&f, &lit));
	f.resource_type = ACL_RES_UNKNOWN;
	assert_non_null(acl_code_unknown(&f));
	/* A code no type has (a newer client's): taken, matching nothing. */
	f.resource_type = 99;
	assert_null(acl_code_unknown(&f));
	assert_false(acl_filter_matches(&f, &lit));
	f.resource_type = ACL_RES_ANY;
	f.operation = 99;
	assert_null(acl_code_unknown(&f));
	assert_false(acl_filter_matches(&f, &lit));
	f.operation = ACL_OP_UNKNOWN;
	assert_non_null(acl_code_unknown(&f));
	f.operation = ACL_OP_ANY;
	assert_null(acl_code_unknown(&f));
	free(lit.resource_name), free(lit.principal), free(lit.host);
	free(wild.resource_name), free(wild.principal), free(wild.host);
	free(pre.resource_name), free(pre.principal), free(pre.host);
}

/* CreateAcls' INVALID_REQUEST cases. */
static void test_binding_invalid(void **state)
{
	struct acl_entry e = { ACL_RES_TOPIC, ACL_PAT_LITERAL, ACL_OP_READ, ACL_PERM_ALLOW,
			       "t",           ALICE,           "*" };
	struct acl_entry bad;

	(void)state;
	assert_null(acl_binding_invalid(&e));
	bad = e, bad.resource_type = ACL_RES_ANY;
	assert_non_null(acl_binding_invalid(&bad));
	bad = e, bad.pattern_type = ACL_PAT_MATCH;
	assert_non_null(acl_binding_invalid(&bad));
	bad = e, bad.operation = ACL_OP_ANY;
	assert_non_null(acl_binding_invalid(&bad));
	bad = e, bad.permission = ACL_PERM_ANY;
	assert_non_null(acl_binding_invalid(&bad));
	bad = e, bad.resource_name = "";
	assert_non_null(acl_binding_invalid(&bad));
	bad = e, bad.principal = "alice";
	assert_non_null(acl_binding_invalid(&bad));
	bad = e, bad.resource_type = ACL_RES_CLUSTER, bad.resource_name = "c";
	assert_string_equal(acl_binding_invalid(&bad),
			    "The only valid name for the CLUSTER resource is kafka-cluster");
	bad.resource_name = ACL_CLUSTER_NAME;
	assert_null(acl_binding_invalid(&bad)); /* READ on the cluster: stored, as Kafka */
	bad = e, bad.resource_name = "a/b";
	assert_non_null(acl_binding_invalid(&bad));
	bad = e, bad.host = "";
	assert_non_null(acl_binding_invalid(&bad));
}

/* The znode documents: Kafka's example decodes; what we write reads
 * back; other versions and shapes are refused. */
static void test_json(void **state)
{
	static const char kafka[] = "{\"version\": 1, \"acls\": [ { \"host\":\"host1\", "
				    "\"permissionType\": \"Deny\",\"operation\": \"Read\","
				    "\"principal\": \"User:alice\"}]}";
	struct acl_entry *v, in[2];
	char why[ZK_WHY_LEN], *doc, *path, *long_name;
	int n;

	(void)state;
	assert_int_equal(acl_json_decode(kafka, strlen(kafka), ACL_RES_TOPIC, ACL_PAT_LITERAL,
					 "topic-1", &v, &n, why),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].permission, ACL_PERM_DENY);
	assert_int_equal(v[0].operation, ACL_OP_READ);
	assert_string_equal(v[0].host, "host1");
	assert_string_equal(v[0].resource_name, "topic-1");
	acl_entries_free(v, n);

	in[0] = (struct acl_entry){ ACL_RES_CLUSTER,
				    ACL_PAT_LITERAL,
				    ACL_OP_IDEMPOTENT_WRITE,
				    ACL_PERM_ALLOW,
				    ACL_CLUSTER_NAME,
				    "User:*",
				    "*" };
	in[1] = (struct acl_entry){ ACL_RES_CLUSTER,
				    ACL_PAT_LITERAL,
				    ACL_OP_DESCRIBE_CONFIGS,
				    ACL_PERM_DENY,
				    ACL_CLUSTER_NAME,
				    BOB,
				    H1 };
	doc = acl_json_encode(in, 2);
	assert_string_equal(doc,
			    "{\"version\":1,\"acls\":[{\"principal\":\"User:*\","
			    "\"permissionType\":\"Allow\",\"operation\":\"IdempotentWrite\","
			    "\"host\":\"*\"},{\"principal\":\"User:bob\",\"permissionType\":"
			    "\"Deny\",\"operation\":\"DescribeConfigs\",\"host\":\"" H1 "\"}]}");
	assert_int_equal(acl_json_decode(doc, strlen(doc), ACL_RES_CLUSTER, ACL_PAT_LITERAL,
					 ACL_CLUSTER_NAME, &v, &n, why),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[1].operation, ACL_OP_DESCRIBE_CONFIGS);
	assert_string_equal(v[1].principal, BOB);
	acl_entries_free(v, n);
	free(doc);

	assert_int_equal(acl_json_decode("", 0, ACL_RES_TOPIC, ACL_PAT_LITERAL, "t", &v, &n, why),
			 0);
	assert_int_equal(n, 0);
	static const char *const bad[] = {
		"{\"version\":2,\"acls\":[]}",
		"{\"version\":1}",
		"{\"version\":1,\"acls\":[{\"principal\":\"alice\",\"permissionType\":\"Allow\","
		"\"operation\":\"Read\",\"host\":\"*\"}]}",
		"{\"version\":1,\"acls\":[{\"principal\":\"User:a\",\"permissionType\":\"Maybe\","
		"\"operation\":\"Read\",\"host\":\"*\"}]}",
		"{\"version\":1,\"acls\":[{\"principal\":\"User:a\",\"permissionType\":\"Allow\","
		"\"operation\":\"Fly\",\"host\":\"*\"}]}",
		"[1]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(acl_json_decode(bad[i], strlen(bad[i]), ACL_RES_TOPIC,
						 ACL_PAT_LITERAL, "t", &v, &n, why),
				 -EBADMSG);

	assert_int_equal(acl_znode_path(&path, ACL_RES_TOPIC, ACL_PAT_LITERAL, "t"), 0);
	assert_string_equal(path, "/kafka-acl/Topic/t");
	free(path);
	assert_int_equal(acl_znode_path(&path, ACL_RES_TRANSACTIONAL_ID, ACL_PAT_PREFIXED, "tx"),
			 0);
	assert_string_equal(path, "/kafka-acl-extended/prefixed/TransactionalId/tx");
	free(path);
	assert_int_equal(acl_znode_path(&path, ACL_RES_TOPIC, ACL_PAT_MATCH, "t"), -EINVAL);
	assert_null(path);
	/* A name of any length (a request's is up to 32,767 bytes): Kafka
	 * stores it, ZooKeeper paths have no bound of their own. */
	long_name = malloc(32768);
	assert_non_null(long_name);
	memset(long_name, 'p', 32767);
	long_name[32767] = '\0';
	assert_int_equal(acl_znode_path(&path, ACL_RES_GROUP, ACL_PAT_PREFIXED, long_name), 0);
	assert_int_equal(strlen(path), strlen("/kafka-acl-extended/prefixed/Group/") + 32767);
	assert_string_equal(path + strlen("/kafka-acl-extended/prefixed/Group/"), long_name);
	free(path);
	free(long_name);
}

/* The change notices: "TOPIC:t" for a literal resource, Kafka's
 * ExtendedAclChangeEvent for a prefixed one. */
static void test_change_notice(void **state)
{
	char *s, *name, why[ZK_WHY_LEN];
	int rtype, pattern;

	(void)state;
	s = acl_change_encode(ACL_RES_TOPIC, ACL_PAT_LITERAL, "a:b");
	assert_string_equal(s, "TOPIC:a:b");
	assert_int_equal(acl_change_decode(s, strlen(s), false, &rtype, &pattern, &name, why), 0);
	assert_int_equal(rtype, ACL_RES_TOPIC);
	assert_int_equal(pattern, ACL_PAT_LITERAL);
	assert_string_equal(name, "a:b");
	free(name);
	free(s);
	/* Kafka 2.0's Scala names ("Topic") still read. */
	assert_int_equal(acl_change_decode("Group:g", 7, false, &rtype, &pattern, &name, why), 0);
	assert_int_equal(rtype, ACL_RES_GROUP);
	free(name);
	s = acl_change_encode(ACL_RES_GROUP, ACL_PAT_PREFIXED, "g-");
	assert_string_equal(s, "{\"version\":1,\"resourceType\":\"GROUP\",\"name\":\"g-\","
			       "\"patternType\":\"PREFIXED\"}");
	assert_int_equal(acl_change_decode(s, strlen(s), true, &rtype, &pattern, &name, why), 0);
	assert_int_equal(rtype, ACL_RES_GROUP);
	assert_int_equal(pattern, ACL_PAT_PREFIXED);
	assert_string_equal(name, "g-");
	free(name);
	free(s);
	assert_int_equal(acl_change_decode("nocolon", 7, false, &rtype, &pattern, &name, why),
			 -EBADMSG);
	assert_int_equal(acl_change_decode("Fish:x", 6, false, &rtype, &pattern, &name, why),
			 -EBADMSG);
	assert_int_equal(
		acl_change_decode("{\"version\":1}", 13, true, &rtype, &pattern, &name, why),
		-EBADMSG);
}

/* The settings: Kafka's class name or none; a single node refuses the
 * authorizer (no ZooKeeper to keep ACLs in); super.users' form. */
static void test_settings(void **state)
{
	struct cluster_config cc;
	char why[256], err[512];

	(void)state;
	cluster_config_defaults(&cc);
	assert_false(cc.authorizer);
	assert_false(cc.allow_everyone_if_no_acl);
	assert_int_equal(
		cluster_config_set(&cc, "authorizer.class.name", "my.Authorizer", why, sizeof(why)),
		-EINVAL);
	assert_non_null(strstr(why, "kafka.security.authorizer.AclAuthorizer"));
	assert_int_equal(cluster_config_set(&cc, "authorizer.class.name",
					    "kafka.security.authorizer.AclAuthorizer", why,
					    sizeof(why)),
			 0);
	assert_true(cc.authorizer);
	assert_int_equal(cluster_config_check(&cc, err, sizeof(err)), -EINVAL);
	assert_non_null(
		strstr(err, "authorizer.class.name: the ACL authorizer needs zookeeper.connect"));
	assert_int_equal(
		cluster_config_set(&cc, "zookeeper.connect", "127.0.0.1:2181", why, sizeof(why)),
		0);
	assert_int_equal(
		cluster_config_set(&cc, "listeners", "PLAINTEXT://127.0.0.1:0", why, sizeof(why)),
		0);
	assert_int_equal(cluster_config_check(&cc, err, sizeof(err)), 0);
	assert_int_equal(cluster_config_set(&cc, "super.users", "User:a;bob", why, sizeof(why)), 0);
	assert_int_equal(cluster_config_check(&cc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "super.users: 'bob' is not a principal"));
	assert_int_equal(cluster_config_set(&cc, "authorizer.class.name", "", why, sizeof(why)), 0);
	assert_false(cc.authorizer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_topic_acl),
		cmocka_unit_test(test_deny_super_wildcard_principal),
		cmocka_unit_test(test_no_acl_found),
		cmocka_unit_test(test_implied_operations),
		cmocka_unit_test(test_wildcard_and_prefixed),
		cmocka_unit_test(test_authorize_any),
		cmocka_unit_test(test_authorize_any_denies),
		cmocka_unit_test(test_authorized_ops),
		cmocka_unit_test(test_set_resource),
		cmocka_unit_test(test_super_users_parse),
		cmocka_unit_test(test_filter_matches),
		cmocka_unit_test(test_binding_invalid),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_change_notice),
		cmocka_unit_test(test_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
