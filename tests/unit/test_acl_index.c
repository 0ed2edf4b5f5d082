/*
 * test_acl_index.c — the ACL store's lookup by resource (repl/acl.c keeps
 * the bindings sorted by resource and looks up only the LITERAL name, the
 * LITERAL "*" and the PREFIXED prefixes of the name) answers exactly as a
 * look at every binding does: a store of 20,000 random bindings, kept
 * here too as a plain list, asked many random questions, before and
 * after thousands of one-resource changes (a change notice's
 * acl_store_set_resource), and through thousands of resources made one
 * by one and then deleted one by one, the store's order checked too. The reference below is the rule of acl.h
 * written as a scan; the names come from a small alphabet so that
 * literal names, "*" and prefixes collide often.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/acl.h"

#define N_BINDINGS 20000
#define N_QUERIES  10000
#define N_UPDATES  3000
#define BROKER     "User:broker" /* the store's super user */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static const char *const principals[] = { "User:u0", "User:u1", "User:u2",
					  "User:u3", "User:u4", "User:*" };
static const char *const hosts[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3", "*" };

/* A name of 1-5 bytes of 'a', 'b', '-' and 0xe9 (a byte above 127, which
 * strcmp orders as unsigned), now and then "*" or a long run of 'a'. */
static void rand_name(char *buf, bool star)
{
	static const char alphabet[] = "ab-\xe9";
	unsigned len;

	if (star && rnd(40) == 0) {
		strcpy(buf, ACL_WILDCARD);
		return;
	}
	len = rnd(50) == 0 ? 30 + rnd(10) : 1 + rnd(5);
	for (unsigned i = 0; i < len; i++)
		buf[i] = len > 5 ? 'a' : alphabet[rnd(4)];
	buf[len] = '\0';
}

static unsigned deny_one_in = 5;

static struct acl_entry rand_binding(int rtype, int pattern, const char *name)
{
	struct acl_entry e = {
		(int8_t)rtype,
		(int8_t)pattern,
		(int8_t)(ACL_OP_ALL + (int)rnd(ACL_OP_DESCRIBE_TOKENS - ACL_OP_ALL + 1)),
		rnd(deny_one_in) == 0 ? ACL_PERM_DENY : ACL_PERM_ALLOW,
		strdup(name),
		strdup(principals[rnd(6)]),
		strdup(hosts[rnd(4)]),
	};

	assert_true(e.resource_name && e.principal && e.host);
	return e;
}

static int rand_type(void)
{
	return ACL_RES_TOPIC + (int)rnd(ACL_RES_USER - ACL_RES_TOPIC + 1);
}

/* ---- the reference: every binding looked at ---- */

struct model {
	struct acl_entry *v;
	int n, cap;
	bool allow_everyone;
};

static bool ref_covers(const struct acl_entry *e, int rtype, const char *name)
{
	if (e->resource_type != rtype)
		return false;
	if (e->pattern_type == ACL_PAT_LITERAL)
		return !strcmp(e->resource_name, name) || !strcmp(e->resource_name, ACL_WILDCARD);
	return !strncmp(name, e->resource_name, strlen(e->resource_name));
}

static bool ref_applies(const struct acl_entry *e, const char *p, const char *h, int op)
{
	return (!strcmp(e->principal, p) || !strcmp(e->principal, "User:*")) &&
	       (!strcmp(e->host, h) || !strcmp(e->host, ACL_WILDCARD)) &&
	       (op < 0 || e->operation == op || e->operation == ACL_OP_ALL);
}

static bool ref_decide(const struct model *m, const char *p, const char *h, int op, int rtype,
		       const char *name)
{
	bool any = false, allowed = false;

	for (int i = 0; i < m->n; i++) {
		const struct acl_entry *e = &m->v[i];
		int o = e->operation;

		if (!ref_covers(e, rtype, name))
			continue;
		any = true;
		if (!ref_applies(e, p, h, -1))
			continue;
		if (e->permission == ACL_PERM_DENY && (o == op || o == ACL_OP_ALL))
			return false;
		if (e->permission == ACL_PERM_ALLOW &&
		    (o == op || o == ACL_OP_ALL ||
		     (op == ACL_OP_DESCRIBE && (o == ACL_OP_READ || o == ACL_OP_WRITE ||
						o == ACL_OP_DELETE || o == ACL_OP_ALTER)) ||
		     (op == ACL_OP_DESCRIBE_CONFIGS && o == ACL_OP_ALTER_CONFIGS)))
			allowed = true;
	}
	return any ? allowed : m->allow_everyone;
}

/* authorizeByResourceType as acl.h and README write it down. */
static bool ref_any(const struct model *m, const char *p, const char *h, int op, int rtype)
{
	const struct acl_entry **denies = calloc((size_t)m->n + 1, sizeof(*denies));
	bool ok = false;
	int nd = 0;

	assert_non_null(denies);
	for (int i = 0; i < m->n; i++) {
		const struct acl_entry *e = &m->v[i];

		if (e->resource_type == rtype && e->permission == ACL_PERM_DENY &&
		    ref_applies(e, p, h, op))
			denies[nd++] = e;
	}
	for (int i = 0; i < nd; i++)
		if (denies[i]->pattern_type == ACL_PAT_LITERAL &&
		    !strcmp(denies[i]->resource_name, ACL_WILDCARD)) {
			free(denies);
			return false;
		}
	ok = m->allow_everyone;
	for (int i = 0; i < m->n && !ok; i++) {
		const struct acl_entry *e = &m->v[i];
		bool covered = false;

		if (e->resource_type != rtype || e->permission != ACL_PERM_ALLOW ||
		    !ref_applies(e, p, h, op))
			continue;
		for (int k = 0; k < nd && !covered; k++) {
			const struct acl_entry *d = denies[k];

			if (e->pattern_type == ACL_PAT_LITERAL &&
			    !strcmp(e->resource_name, ACL_WILDCARD))
				break;
			covered = (d->pattern_type == ACL_PAT_LITERAL &&
				   e->pattern_type == ACL_PAT_LITERAL &&
				   !strcmp(d->resource_name, e->resource_name)) ||
				  (d->pattern_type == ACL_PAT_PREFIXED &&
				   !strncmp(e->resource_name, d->resource_name,
					    strlen(d->resource_name)));
		}
		ok = !covered;
	}
	free(denies);
	return ok;
}

static void model_add(struct model *m, const struct acl_entry *e)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 1024;
		m->v = realloc(m->v, (size_t)m->cap * sizeof(*m->v));
		assert_non_null(m->v);
	}
	assert_int_equal(acl_entry_copy(e, &m->v[m->n]), 0);
	m->n++;
}

/* acl_store_set_resource on the plain list. */
static void model_set(struct model *m, int rtype, int pattern, const char *name,
		      const struct acl_entry *v, int n)
{
	int k = 0;

	for (int i = 0; i < m->n; i++) {
		struct acl_entry *e = &m->v[i];

		if (e->resource_type == rtype && e->pattern_type == pattern &&
		    !strcmp(e->resource_name, name)) {
			free(e->resource_name);
			free(e->principal);
			free(e->host);
		} else {
			m->v[k++] = *e;
		}
	}
	m->n = k;
	for (int i = 0; i < n; i++)
		model_add(m, &v[i]);
}

/* ---- the comparison ---- */

/* A name to ask about: one the bindings may name, one they may be a
 * prefix of, "*", or one nothing names. */
static void query_name(char *buf)
{
	switch (rnd(8)) {
	case 0: strcpy(buf, ACL_WILDCARD); break;
	case 1: strcpy(buf, "zzz"); break;
	case 2:
	case 3: {
		size_t len;

		rand_name(buf, false);
		len = strlen(buf);
		rand_name(buf + len, false);
		break;
	}
	default: rand_name(buf, false);
	}
}

static void compare(struct acl_store *s, const struct model *m, int queries)
{
	struct acl_entry all = { ACL_RES_ANY, ACL_PAT_ANY, ACL_OP_ANY, ACL_PERM_ANY,
				 NULL,        NULL,        NULL };
	struct acl_entry *found;
	int allowed = 0;

	/* the store holds what the list does */
	assert_int_equal(acl_store_find(s, &all, &found), m->n);
	acl_entries_free(found, m->n);
	for (int q = 0; q < queries; q++) {
		const char *p = rnd(7) == 0 ? "User:nobody" : principals[rnd(5)];
		const char *h = rnd(5) == 0 ? "10.9.9.9" : hosts[rnd(3)];
		int op = ACL_OP_READ + (int)rnd(ACL_OP_DESCRIBE_TOKENS - ACL_OP_READ + 1);
		int rtype = rand_type();
		char name[128];
		bool want;

		query_name(name);
		want = ref_decide(m, p, h, op, rtype, name);
		allowed += want;
		if (acl_authorize(s, p, h, op, rtype, name) != want)
			fail_msg("authorize %s %s op %d type %d \"%s\": want %d", p, h, op, rtype,
				 name, want);
		if (q % 16 == 0) {
			int32_t sup = acl_authorized_ops(s, BROKER, h, rtype, name), ref = 0;

			for (int o = 0; o < 31; o++)
				if ((sup & (1 << o)) && ref_decide(m, p, h, o, rtype, name))
					ref |= 1 << o;
			assert_int_equal(acl_authorized_ops(s, p, h, rtype, name), ref);
		}
		if (q % 64 == 0)
			assert_int_equal(acl_authorize_any(s, p, h, op, rtype),
					 ref_any(m, p, h, op, rtype));
	}
	/* the questions asked both answers, not one */
	assert_true(allowed > queries / 50);
	assert_true(allowed < queries - queries / 50);
}

static void run(bool allow_everyone)
{
	struct model m = { NULL, 0, 0, allow_everyone };
	struct acl_entry *v = calloc(N_BINDINGS, sizeof(*v));
	struct acl_store *s;
	char why[64], name[128];

	assert_non_null(v);
	assert_int_equal(acl_store_new("", "broker", allow_everyone, why, sizeof(why), &s), 0);
	for (int i = 0; i < N_BINDINGS; i++) {
		int pattern = rnd(3) == 0 ? ACL_PAT_PREFIXED : ACL_PAT_LITERAL;

		rand_name(name, pattern == ACL_PAT_LITERAL);
		v[i] = rand_binding(rand_type(), pattern, name);
		model_add(&m, &v[i]);
	}
	acl_store_replace(s, v, N_BINDINGS);
	compare(s, &m, N_QUERIES);

	/* change notices: a resource's bindings replaced, removed, new */
	for (int u = 0; u < N_UPDATES; u++) {
		int rtype = rand_type(), n = (int)rnd(4);
		int pattern = rnd(3) == 0 ? ACL_PAT_PREFIXED : ACL_PAT_LITERAL;
		struct acl_entry *nv = calloc((size_t)n + 1, sizeof(*nv));

		assert_non_null(nv);
		rand_name(name, pattern == ACL_PAT_LITERAL);
		for (int i = 0; i < n; i++)
			nv[i] = rand_binding(rtype, pattern, name);
		model_set(&m, rtype, pattern, name, nv, n);
		acl_store_set_resource(s, rtype, pattern, name, nv, n);
		if (u % 500 == 0)
			compare(s, &m, 200);
	}
	compare(s, &m, N_QUERIES);
	acl_entries_free(m.v, m.n);
	acl_store_free(s);
}

static void test_index_as_scan(void **state)
{
	(void)state;
	run(false);
}

/* With allow.everyone.if.no.acl.found, a resource no binding covers is
 * allowed: a binding the lookup misses (or adds) that does not apply to
 * the asker changes the answer too. */
static void test_index_as_scan_allow_everyone(void **state)
{
	(void)state;
	run(true);
}

/* authorizeByResourceType looks up the DENYs that cover an ALLOW whole
 * (a LITERAL of its name, a PREFIXED prefix of it): in a large store some
 * ALLOW is always left, so small stores of two types, half DENYs, where
 * each answer turns on the few bindings that apply. */
static void test_any_small_stores(void **state)
{
	int yes = 0, no = 0;
	char why[64], name[128];

	(void)state;
	deny_one_in = 2;
	for (int round = 0; round < 400; round++) {
		struct model m = { NULL, 0, 0, false };
		struct acl_entry *v = calloc(60, sizeof(*v));
		struct acl_store *s;
		int n = 10 + (int)rnd(50);

		assert_non_null(v);
		assert_int_equal(acl_store_new("", "broker", false, why, sizeof(why), &s), 0);
		for (int i = 0; i < n; i++) {
			int pattern = rnd(2) ? ACL_PAT_PREFIXED : ACL_PAT_LITERAL;

			rand_name(name, pattern == ACL_PAT_LITERAL);
			v[i] = rand_binding(ACL_RES_TOPIC + (int)rnd(2), pattern, name);
			model_add(&m, &v[i]);
		}
		acl_store_replace(s, v, n);
		for (int q = 0; q < 100; q++) {
			const char *p = principals[rnd(5)], *h = hosts[rnd(3)];
			int op = ACL_OP_READ + (int)rnd(ACL_OP_DESCRIBE_TOKENS - ACL_OP_READ + 1);
			int rtype = ACL_RES_TOPIC + (int)rnd(2);
			bool want = ref_any(&m, p, h, op, rtype);

			assert_int_equal(acl_authorize_any(s, p, h, op, rtype), want);
			yes += want;
			no += !want;
			query_name(name);
			assert_int_equal(acl_authorize(s, p, h, op, rtype, name),
					 ref_decide(&m, p, h, op, rtype, name));
		}
		acl_entries_free(m.v, m.n);
		acl_store_free(s);
	}
	deny_one_in = 5;
	assert_true(yes > 1000 && no > 1000);
}

/* Every field, for sorting two lists alike. */
static int whole_cmp(const void *x, const void *y)
{
	const struct acl_entry *a = x, *b = y;
	int c;

	if (a->resource_type != b->resource_type)
		return a->resource_type - b->resource_type;
	if (a->pattern_type != b->pattern_type)
		return a->pattern_type - b->pattern_type;
	if ((c = strcmp(a->resource_name, b->resource_name)) ||
	    (c = strcmp(a->principal, b->principal)) || (c = strcmp(a->host, b->host)))
		return c;
	if (a->operation != b->operation)
		return a->operation - b->operation;
	return a->permission - b->permission;
}

/* The store's listing is in its order (type, pattern, name as strcmp
 * orders it), the order the lookups rely on, held by every in-place
 * update; and it holds exactly the bindings of the plain list. */
static void assert_ordered(struct acl_store *s, const struct model *m)
{
	struct acl_entry all = { ACL_RES_ANY, ACL_PAT_ANY, ACL_OP_ANY, ACL_PERM_ANY,
				 NULL,        NULL,        NULL };
	struct acl_entry *v, *mv = malloc(((size_t)m->n + 1) * sizeof(*mv)), *sv;
	int n = acl_store_find(s, &all, &v);

	assert_int_equal(n, m->n);
	assert_non_null(mv);
	sv = malloc(((size_t)n + 1) * sizeof(*sv));
	assert_non_null(sv);
	memcpy(mv, m->v, (size_t)n * sizeof(*mv));
	memcpy(sv, v, (size_t)n * sizeof(*sv));
	qsort(mv, (size_t)n, sizeof(*mv), whole_cmp);
	qsort(sv, (size_t)n, sizeof(*sv), whole_cmp);
	for (int i = 0; i < n; i++)
		assert_int_equal(whole_cmp(&mv[i], &sv[i]), 0);
	free(mv);
	free(sv);
	for (int i = 1; i < n; i++) {
		const struct acl_entry *a = &v[i - 1], *b = &v[i];
		int c = a->resource_type != b->resource_type ? a->resource_type - b->resource_type
			: a->pattern_type != b->pattern_type
				? a->pattern_type - b->pattern_type
				: strcmp(a->resource_name, b->resource_name);

		if (c > 0)
			fail_msg("binding %d (%d %d \"%s\") after (%d %d \"%s\")", i,
				 b->resource_type, b->pattern_type, b->resource_name,
				 a->resource_type, a->pattern_type, a->resource_name);
	}
	acl_entries_free(v, n);
}

/* Change notices for many resources, one after the other, from an empty
 * store: thousands of resources made (each an insert somewhere in the
 * array), some replaced, then every one deleted in a random order, the
 * store compared with the plain list and its order checked throughout. */
static void test_many_resources(void **state)
{
	enum { N_RES = 6000 };
	struct model m = { NULL, 0, 0, false };
	struct acl_store *s;
	char why[64], (*names)[64] = calloc(N_RES, sizeof(*names));
	int *types = calloc(N_RES, sizeof(int)), *patterns = calloc(N_RES, sizeof(int));

	(void)state;
	assert_true(names && types && patterns);
	assert_int_equal(acl_store_new("", "broker", false, why, sizeof(why), &s), 0);
	for (int r = 0; r < N_RES; r++) {
		int n = 1 + (int)rnd(3);
		struct acl_entry *nv = calloc((size_t)n, sizeof(*nv));

		assert_non_null(nv);
		types[r] = rand_type();
		patterns[r] = rnd(3) == 0 ? ACL_PAT_PREFIXED : ACL_PAT_LITERAL;
		rand_name(names[r], patterns[r] == ACL_PAT_LITERAL);
		/* most new (of some 13,000 short names and the numbered
		 * ones), some the same as an earlier one: replaced */
		if (rnd(4) == 0)
			snprintf(names[r] + strlen(names[r]), 16, "%u", rnd(100000));
		for (int i = 0; i < n; i++)
			nv[i] = rand_binding(types[r], patterns[r], names[r]);
		model_set(&m, types[r], patterns[r], names[r], nv, n);
		acl_store_set_resource(s, types[r], patterns[r], names[r], nv, n);
		if (r % 1000 == 999) {
			assert_ordered(s, &m);
			compare(s, &m, 300);
		}
	}
	assert_ordered(s, &m);
	compare(s, &m, 2000);
	/* every resource deleted (its znode gone: no bindings), in a random
	 * order; now and then one made again */
	for (int r = N_RES - 1; r >= 0; r--) {
		int j = (int)rnd((unsigned)r + 1);
		char tmp[64];
		int t = types[j], p = patterns[j];

		memcpy(tmp, names[j], sizeof(tmp));
		memcpy(names[j], names[r], sizeof(tmp));
		types[j] = types[r];
		patterns[j] = patterns[r];
		if (rnd(10) == 0) {
			struct acl_entry *nv = calloc(1, sizeof(*nv));

			assert_non_null(nv);
			nv[0] = rand_binding(t, p, tmp);
			model_set(&m, t, p, tmp, nv, 1);
			acl_store_set_resource(s, t, p, tmp, nv, 1);
		}
		model_set(&m, t, p, tmp, NULL, 0);
		acl_store_set_resource(s, t, p, tmp, calloc(1, sizeof(struct acl_entry)), 0);
		if (r % 500 == 0) {
			assert_ordered(s, &m);
			/* compare asks that some answers allow: while
			 * most bindings are left */
			if (r >= 5000)
				compare(s, &m, 1000);
		}
	}
	assert_int_equal(m.n, 0);
	assert_ordered(s, &m);
	free(names);
	free(types);
	free(patterns);
	acl_entries_free(m.v, m.n);
	acl_store_free(s);
}

/* A caller that hands acl_store_set_resource a binding of another
 * resource than the one named gets it looked up all the same (the store
 * sorts itself again rather than lose it). */
static void test_set_resource_other(void **state)
{
	struct acl_entry *v = calloc(4, sizeof(*v)), *nv = calloc(2, sizeof(*nv));
	struct acl_store *s;
	char why[64];

	(void)state;
	assert_true(v && nv);
	assert_int_equal(acl_store_new("", "broker", false, why, sizeof(why), &s), 0);
	v[0] = rand_binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "b");
	v[1] = rand_binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "m");
	v[2] = rand_binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "z");
	acl_store_replace(s, v, 3);
	nv[0] = rand_binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "m");
	nv[1] = rand_binding(ACL_RES_TOPIC, ACL_PAT_LITERAL, "a");
	nv[1].operation = ACL_OP_READ;
	nv[1].permission = ACL_PERM_ALLOW;
	free(nv[1].principal);
	free(nv[1].host);
	nv[1].principal = strdup("User:u1");
	nv[1].host = strdup("*");
	assert_true(nv[1].principal && nv[1].host);
	acl_store_set_resource(s, ACL_RES_TOPIC, ACL_PAT_LITERAL, "m", nv, 2);
	assert_true(acl_authorize(s, "User:u1", "10.0.0.1", ACL_OP_READ, ACL_RES_TOPIC, "a"));
	acl_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_as_scan),
		cmocka_unit_test(test_index_as_scan_allow_everyone),
		cmocka_unit_test(test_any_small_stores),
		cmocka_unit_test(test_set_resource_other),
		cmocka_unit_test(test_many_resources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
