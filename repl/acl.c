/*
 * acl.c — the ACL bindings, their matching rule and their ZooKeeper
 * documents (acl.h, which writes down the layout and the rule).
 *
 * The store is one array of bindings under a read-write lock, kept
 * sorted by resource (type, pattern, name): the index Kafka's aclCache
 * (a TreeMap keyed by ResourcePattern) is. A check looks up only the
 * resources whose pattern can cover the name, by binary search: the
 * LITERAL name, the LITERAL "*", and each prefix of the name as a
 * PREFIXED pattern (stopping at the first prefix no PREFIXED pattern
 * starts with), so it costs O(length * log n) string comparisons and the
 * bindings of those resources, not a look at every ACL of the store,
 * which real deployments hold thousands of (one or more per user per
 * topic). The admin paths (filters, authorizeByResourceType) still scan.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "repl/acl.h"
#include "repl/zkdata.h"

static const char *const type_path[] = {
	[ACL_RES_TOPIC] = "Topic",
	[ACL_RES_GROUP] = "Group",
	[ACL_RES_CLUSTER] = "Cluster",
	[ACL_RES_TRANSACTIONAL_ID] = "TransactionalId",
	[ACL_RES_DELEGATION_TOKEN] = "DelegationToken",
	[ACL_RES_USER] = "User",
};
static const char *const type_enum[] = {
	[ACL_RES_TOPIC] = "TOPIC",
	[ACL_RES_GROUP] = "GROUP",
	[ACL_RES_CLUSTER] = "CLUSTER",
	[ACL_RES_TRANSACTIONAL_ID] = "TRANSACTIONAL_ID",
	[ACL_RES_DELEGATION_TOKEN] = "DELEGATION_TOKEN",
	[ACL_RES_USER] = "USER",
};
static const char *const op_names[] = {
	[ACL_OP_ALL] = "All",
	[ACL_OP_READ] = "Read",
	[ACL_OP_WRITE] = "Write",
	[ACL_OP_CREATE] = "Create",
	[ACL_OP_DELETE] = "Delete",
	[ACL_OP_ALTER] = "Alter",
	[ACL_OP_DESCRIBE] = "Describe",
	[ACL_OP_CLUSTER_ACTION] = "ClusterAction",
	[ACL_OP_DESCRIBE_CONFIGS] = "DescribeConfigs",
	[ACL_OP_ALTER_CONFIGS] = "AlterConfigs",
	[ACL_OP_IDEMPOTENT_WRITE] = "IdempotentWrite",
	[ACL_OP_CREATE_TOKENS] = "CreateTokens",
	[ACL_OP_DESCRIBE_TOKENS] = "DescribeTokens",
};
#define N_OPS   ((int)(sizeof(op_names) / sizeof(op_names[0])))
#define N_TYPES ((int)(sizeof(type_path) / sizeof(type_path[0])))
#define BIT(op) (1 << (op))

/* AclEntry.supportedOperations, as bit fields of the codes. */
static int32_t supported_ops(int rtype)
{
	switch (rtype) {
	case ACL_RES_TOPIC:
		return BIT(ACL_OP_READ) | BIT(ACL_OP_WRITE) | BIT(ACL_OP_CREATE) |
		       BIT(ACL_OP_DESCRIBE) | BIT(ACL_OP_DELETE) | BIT(ACL_OP_ALTER) |
		       BIT(ACL_OP_DESCRIBE_CONFIGS) | BIT(ACL_OP_ALTER_CONFIGS);
	case ACL_RES_GROUP: return BIT(ACL_OP_READ) | BIT(ACL_OP_DESCRIBE) | BIT(ACL_OP_DELETE);
	case ACL_RES_CLUSTER:
		return BIT(ACL_OP_CREATE) | BIT(ACL_OP_CLUSTER_ACTION) |
		       BIT(ACL_OP_DESCRIBE_CONFIGS) | BIT(ACL_OP_ALTER_CONFIGS) |
		       BIT(ACL_OP_IDEMPOTENT_WRITE) | BIT(ACL_OP_ALTER) | BIT(ACL_OP_DESCRIBE);
	case ACL_RES_TRANSACTIONAL_ID: return BIT(ACL_OP_DESCRIBE) | BIT(ACL_OP_WRITE);
	case ACL_RES_DELEGATION_TOKEN: return BIT(ACL_OP_DESCRIBE);
	case ACL_RES_USER: return BIT(ACL_OP_CREATE_TOKENS) | BIT(ACL_OP_DESCRIBE_TOKENS);
	}
	return 0;
}

const char *acl_type_path_name(int rtype)
{
	return rtype > ACL_RES_ANY && rtype < N_TYPES ? type_path[rtype] : NULL;
}

const char *acl_type_name(int rtype)
{
	return rtype > ACL_RES_ANY && rtype < N_TYPES ? type_enum[rtype] : NULL;
}

const char *acl_op_name(int op)
{
	return op > ACL_OP_ANY && op < N_OPS ? op_names[op] : NULL;
}

const char *acl_perm_name(int perm)
{
	return perm == ACL_PERM_ALLOW ? "Allow" : perm == ACL_PERM_DENY ? "Deny" : NULL;
}

/* Kafka parses names in any case (SecurityUtils, ResourceType.fromString). */
static int code_of(const char *const *names, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (names[i] && !strcasecmp(names[i], s))
			return i;
	return -1;
}

void acl_entries_free(struct acl_entry *v, int n)
{
	for (int i = 0; v && i < n; i++) {
		free(v[i].resource_name);
		free(v[i].principal);
		free(v[i].host);
	}
	free(v);
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	*fail |= !d;
	return d;
}

int acl_entry_copy(const struct acl_entry *e, struct acl_entry *out)
{
	bool fail = false;

	*out = *e;
	out->resource_name = dup_or_null(e->resource_name, &fail);
	out->principal = dup_or_null(e->principal, &fail);
	out->host = dup_or_null(e->host, &fail);
	if (fail) {
		free(out->resource_name);
		free(out->principal);
		free(out->host);
		memset(out, 0, sizeof(*out));
		return -ENOMEM;
	}
	return 0;
}

/* "Type:name", both parts non-empty (SecurityUtils.parseKafkaPrincipal). */
static bool principal_valid(const char *p)
{
	const char *colon = p ? strchr(p, ':') : NULL;

	return colon && colon != p && colon[1];
}

const char *acl_binding_invalid(const struct acl_entry *e)
{
	if (!acl_type_name(e->resource_type))
		return "Invalid resource type";
	if (e->pattern_type != ACL_PAT_LITERAL && e->pattern_type != ACL_PAT_PREFIXED)
		return "Invalid pattern type: only LITERAL and PREFIXED may be stored";
	if (!acl_op_name(e->operation))
		return "Invalid operation";
	if (!acl_perm_name(e->permission))
		return "Invalid permission type";
	if (!e->resource_name || !e->resource_name[0])
		return "Invalid empty resource name specified";
	if (e->resource_type == ACL_RES_CLUSTER && strcmp(e->resource_name, ACL_CLUSTER_NAME))
		return "The only valid name for the CLUSTER resource is " ACL_CLUSTER_NAME;
	if (!principal_valid(e->principal))
		return "Invalid principal: expected Type:name";
	if (!e->host || !e->host[0])
		return "Invalid host";
	/* A name with '/' would make another znode path than the resource's. */
	if (strchr(e->resource_name, '/'))
		return "Invalid resource name: '/' is not allowed";
	/* An operation the type has not (READ on the cluster) is stored, as
	 * Kafka's broker stores it (only kafka-acls.sh checks): it never
	 * matters. */
	return NULL;
}

/* Only the UNKNOWN code itself (0), as Kafka's CreateAclsRequest,
 * DescribeAclsRequest and DeleteAclsRequest validate() refuse it: any
 * other code no type, pattern, operation or permission has (a newer
 * client's) parses; in a filter it matches no ACL, as Kafka's filter of
 * it, and a creation of it is INVALID_REQUEST (acl_binding_invalid). */
const char *acl_code_unknown(const struct acl_entry *f)
{
	if (f->resource_type == ACL_RES_UNKNOWN)
		return "resource type";
	if (f->pattern_type == ACL_PAT_UNKNOWN)
		return "pattern type";
	if (f->operation == ACL_OP_UNKNOWN)
		return "operation";
	if (f->permission == ACL_PERM_UNKNOWN)
		return "permission type";
	return NULL;
}

/* Whether the binding's pattern (type, name) covers resource name. */
static bool pattern_covers(int pattern, const char *pname, const char *name)
{
	if (pattern == ACL_PAT_LITERAL)
		return !strcmp(pname, name) || !strcmp(pname, ACL_WILDCARD);
	if (pattern == ACL_PAT_PREFIXED)
		return !strncmp(name, pname, strlen(pname));
	return false;
}

bool acl_filter_matches(const struct acl_entry *f, const struct acl_entry *e)
{
	if (f->resource_type != ACL_RES_ANY && f->resource_type != e->resource_type)
		return false;
	if (f->pattern_type == ACL_PAT_MATCH) {
		if (f->resource_name &&
		    !pattern_covers(e->pattern_type, e->resource_name, f->resource_name))
			return false;
	} else {
		if (f->pattern_type != ACL_PAT_ANY && f->pattern_type != e->pattern_type)
			return false;
		if (f->resource_name && strcmp(f->resource_name, e->resource_name))
			return false;
	}
	if (f->principal && strcmp(f->principal, e->principal))
		return false;
	if (f->host && strcmp(f->host, e->host))
		return false;
	if (f->operation != ACL_OP_ANY && f->operation != e->operation)
		return false;
	return f->permission == ACL_PERM_ANY || f->permission == e->permission;
}

/* ---- the documents ---- */

int acl_znode_path(char **out, int rtype, int pattern, const char *name)
{
	const char *t = acl_type_path_name(rtype);
	const char *root = pattern == ACL_PAT_LITERAL ? ACL_PATH : ACL_EXT_PATH;
	size_t size;

	*out = NULL;
	if (!t || (pattern != ACL_PAT_LITERAL && pattern != ACL_PAT_PREFIXED) || !name)
		return -EINVAL;
	/* Sized to the name: Kafka's ZooKeeper paths have no bound of their
	 * own (a resource name of a request is up to 32,767 bytes). */
	size = strlen(root) + strlen(t) + strlen(name) + 3;
	*out = malloc(size);
	if (!*out)
		return -ENOMEM;
	snprintf(*out, size, "%s/%s/%s", root, t, name);
	return 0;
}

static char *dump(json_t *root)
{
	char *s = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(root);
	return s;
}

char *acl_json_encode(const struct acl_entry *v, int n)
{
	json_t *arr = json_array(), *root = json_object();

	for (int i = 0; arr && i < n; i++) {
		json_t *o = json_object();

		o = zk_json_put(o, "principal", json_string(v[i].principal));
		o = zk_json_put(o, "permissionType", json_string(acl_perm_name(v[i].permission)));
		o = zk_json_put(o, "operation", json_string(acl_op_name(v[i].operation)));
		o = zk_json_put(o, "host", json_string(v[i].host));
		if (!o || json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	root = zk_json_put(root, "version", json_integer(1));
	root = zk_json_put(root, "acls", arr);
	return dump(root);
}

static const char *str_of(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int acl_json_decode(const char *buf, size_t len, int rtype, int pattern, const char *name,
		    struct acl_entry **out, int *n, char *why)
{
	json_t *root = NULL, *acls, *it;
	struct acl_entry *v = NULL;
	json_error_t err;
	size_t i;
	int rc = 0, k = 0;

	*out = NULL;
	*n = 0;
	if (len == 0)
		return 0;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (!json_is_object(root)) {
		rc = zk_bad(why, "not a JSON object: %.100s", root ? "" : err.text);
		goto out;
	}
	if (json_integer_value(json_object_get(root, "version")) != 1 ||
	    !json_is_integer(json_object_get(root, "version"))) {
		rc = zk_bad(why, "\"version\" is not 1");
		goto out;
	}
	acls = json_object_get(root, "acls");
	if (!json_is_array(acls)) {
		rc = zk_bad(why, "\"acls\" is not an array");
		goto out;
	}
	v = calloc(json_array_size(acls) + 1, sizeof(*v));
	if (!v) {
		rc = -ENOMEM;
		goto out;
	}
	json_array_foreach(acls, i, it)
	{
		struct acl_entry *e = &v[k];
		const char *p = str_of(it, "principal"), *h = str_of(it, "host");
		int op = code_of(op_names, N_OPS, str_of(it, "operation"));
		const char *perm = str_of(it, "permissionType");
		bool fail = false;

		if (!principal_valid(p) || !h || op < 0 || !perm ||
		    (strcasecmp(perm, "Allow") && strcasecmp(perm, "Deny"))) {
			rc = zk_bad(
				why,
				"ACL %zu is not a principal, permissionType, operation and host",
				i);
			goto out;
		}
		e->resource_type = (int8_t)rtype;
		e->pattern_type = (int8_t)pattern;
		e->operation = (int8_t)op;
		e->permission = strcasecmp(perm, "Allow") ? ACL_PERM_DENY : ACL_PERM_ALLOW;
		e->resource_name = dup_or_null(name, &fail);
		e->principal = dup_or_null(p, &fail);
		e->host = dup_or_null(h, &fail);
		k++;
		if (fail) {
			rc = -ENOMEM;
			goto out;
		}
	}
out:
	json_decref(root);
	if (rc) {
		acl_entries_free(v, k);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

char *acl_change_encode(int rtype, int pattern, const char *name)
{
	json_t *root;
	char *s;

	if (pattern == ACL_PAT_LITERAL) {
		size_t len = strlen(type_enum[rtype]) + strlen(name) + 2;

		s = malloc(len);
		if (s)
			snprintf(s, len, "%s:%s", type_enum[rtype], name);
		return s;
	}
	root = json_object();
	root = zk_json_put(root, "version", json_integer(1));
	root = zk_json_put(root, "resourceType", json_string(type_enum[rtype]));
	root = zk_json_put(root, "name", json_string(name));
	root = zk_json_put(root, "patternType", json_string("PREFIXED"));
	return dump(root);
}

int acl_change_decode(const char *buf, size_t len, bool extended, int *rtype, int *pattern,
		      char **name, char *why)
{
	const char *rt, *nm, *pt;
	json_t *root;
	json_error_t err;
	int rc = 0;

	*name = NULL;
	if (!extended) {
		const char *colon = memchr(buf, ':', len);

		if (!colon)
			return zk_bad(why, "expected ResourceType:ResourceName");
		char type[32];
		size_t tl = (size_t)(colon - buf);

		if (tl >= sizeof(type))
			return zk_bad(why, "unknown resource type");
		memcpy(type, buf, tl);
		type[tl] = '\0';
		*rtype = code_of(type_enum, N_TYPES, type);
		if (*rtype < 0)
			return zk_bad(why, "unknown resource type %.31s", type);
		*pattern = ACL_PAT_LITERAL;
		*name = strndup(colon + 1, len - tl - 1);
		return *name ? 0 : -ENOMEM;
	}
	root = json_loadb(buf, len, 0, &err);
	rt = str_of(root, "resourceType");
	nm = str_of(root, "name");
	pt = str_of(root, "patternType");
	if (!json_is_object(root) || json_integer_value(json_object_get(root, "version")) != 1 ||
	    !rt || !nm || !pt) {
		rc = zk_bad(why, "not an ACL change event");
		goto out;
	}
	*rtype = code_of(type_enum, N_TYPES, rt);
	if (*rtype < 0 || strcasecmp(pt, "PREFIXED")) {
		rc = zk_bad(why, "unknown resource or pattern type %.31s %.31s", rt, pt);
		goto out;
	}
	*pattern = ACL_PAT_PREFIXED;
	*name = strdup(nm);
	rc = *name ? 0 : -ENOMEM;
out:
	json_decref(root);
	return rc;
}

/* ---- the store ---- */

struct acl_store {
	pthread_rwlock_t lock;
	struct acl_entry *v; /* sorted (key_cmp); cap slots, n used */
	int n, cap;
	char **supers;
	int n_supers;
	bool allow_everyone;
};

static int add_super(struct acl_store *s, const char *p, size_t len)
{
	char **v = realloc(s->supers, (size_t)(s->n_supers + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	s->supers = v;
	v[s->n_supers] = strndup(p, len);
	if (!v[s->n_supers])
		return -ENOMEM;
	s->n_supers++;
	return 0;
}

int acl_store_new(const char *super_users, const char *brokers_user, bool allow_everyone, char *why,
		  size_t whylen, struct acl_store **out)
{
	struct acl_store *s = calloc(1, sizeof(*s));
	const char *p = super_users;
	int rc = 0;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	pthread_rwlock_init(&s->lock, NULL);
	s->allow_everyone = allow_everyone;
	/* Kafka splits super.users on ';' and trims each part. */
	while (p && *p && rc == 0) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char one[ACL_PRINCIPAL_MAX];

		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len) {
			snprintf(one, sizeof(one), "%.*s", (int)len, p);
			if (len >= sizeof(one) || !principal_valid(one)) {
				snprintf(why, whylen, "'%.*s' is not a principal (User:name)",
					 (int)(len > 64 ? 64 : len), p);
				rc = -EINVAL;
			} else {
				rc = add_super(s, p, len);
			}
		}
		p = end ? end + 1 : NULL;
	}
	if (rc == 0 && brokers_user && brokers_user[0]) {
		char one[ACL_PRINCIPAL_MAX];

		snprintf(one, sizeof(one), "User:%s", brokers_user);
		rc = add_super(s, one, strlen(one));
	}
	if (rc) {
		acl_store_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void acl_store_free(struct acl_store *s)
{
	if (!s)
		return;
	acl_entries_free(s->v, s->n);
	for (int i = 0; i < s->n_supers; i++)
		free(s->supers[i]);
	free(s->supers);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

static bool same_resource(const struct acl_entry *e, int rtype, int pattern, const char *name)
{
	return e->resource_type == rtype && e->pattern_type == pattern &&
	       !strcmp(e->resource_name, name);
}

/* The store's order: resource type, pattern type, then name as strcmp
 * orders it; e against the resource (rtype, pattern, the first len bytes
 * of name), which holds no '\0'. The lookups below rely on it. */
static int key_cmp(const struct acl_entry *e, int rtype, int pattern, const char *name, size_t len)
{
	int c;

	if (e->resource_type != rtype)
		return e->resource_type < rtype ? -1 : 1;
	if (e->pattern_type != pattern)
		return e->pattern_type < pattern ? -1 : 1;
	c = strncmp(e->resource_name, name, len);
	if (c)
		return c;
	/* name's len bytes start e's name: e sorts after unless they are it */
	return e->resource_name[len] != '\0';
}

/* The first binding of [lo, hi) not before the resource. */
static int lower_bound(const struct acl_store *s, int lo, int hi, int rtype, int pattern,
		       const char *name, size_t len)
{
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (key_cmp(&s->v[mid], rtype, pattern, name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* One past the resource's bindings that start at i. */
static int resource_end(const struct acl_store *s, int i, int hi, int rtype, int pattern,
			const char *name, size_t len)
{
	while (i < hi && !key_cmp(&s->v[i], rtype, pattern, name, len))
		i++;
	return i;
}

struct ranked {
	struct acl_entry e;
	int rank;
};

static int ranked_cmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	int c = key_cmp(&x->e, y->e.resource_type, y->e.pattern_type, y->e.resource_name,
			strlen(y->e.resource_name));

	return c ? c : (x->rank > y->rank) - (x->rank < y->rank);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct acl_entry *y = b;

	return key_cmp(a, y->resource_type, y->pattern_type, y->resource_name,
		       strlen(y->resource_name));
}

/* Puts v in the store's order, each resource's bindings in the order
 * given (its znode's, which DescribeAcls shows). Without the memory for
 * that, in the order still but a resource's bindings in any order: the
 * decisions do not depend on it, and the lookups need the order. */
static void sort_entries(struct acl_entry *v, int n)
{
	struct ranked *r;

	if (n < 2)
		return;
	r = malloc((size_t)n * sizeof(*r));
	if (!r) {
		qsort(v, (size_t)n, sizeof(*v), entry_cmp);
		return;
	}
	for (int i = 0; i < n; i++) {
		r[i].e = v[i];
		r[i].rank = i;
	}
	qsort(r, (size_t)n, sizeof(*r), ranked_cmp);
	for (int i = 0; i < n; i++)
		v[i] = r[i].e;
	free(r);
}

/* A change notice replaces one resource's bindings where they are: the
 * ones after it move by the difference (memmove), and the array grows
 * only when the resource has more bindings than before, by doubling, so
 * that notices for many resources cost no copy of the whole store each.
 * An update that does not grow needs no memory: a deletion always
 * takes effect. */
void acl_store_set_resource(struct acl_store *s, int rtype, int pattern, const char *name,
			    struct acl_entry *v, int n)
{
	size_t len = strlen(name);
	int lo, hi, k;

	pthread_rwlock_wrlock(&s->lock);
	lo = lower_bound(s, 0, s->n, rtype, pattern, name, len);
	hi = resource_end(s, lo, s->n, rtype, pattern, name, len);
	k = s->n - (hi - lo) + n;
	if (k > s->cap) {
		int cap = s->cap > k / 2 ? 2 * s->cap : k;
		struct acl_entry *nv = realloc(s->v, (size_t)cap * sizeof(*nv));

		if (!nv) {
			/* Keeps the old bindings of the resource: stale, not
			 * lost; the next notice or session reads it again. */
			pthread_rwlock_unlock(&s->lock);
			acl_entries_free(v, n);
			return;
		}
		s->v = nv;
		s->cap = cap;
	}
	for (int i = lo; i < hi; i++) {
		free(s->v[i].resource_name);
		free(s->v[i].principal);
		free(s->v[i].host);
	}
	/* The resource's bindings go where its old ones were: the order
	 * holds without sorting. */
	if (s->n > hi && lo + n != hi)
		memmove(s->v + lo + n, s->v + hi, (size_t)(s->n - hi) * sizeof(*s->v));
	if (n)
		memcpy(s->v + lo, v, (size_t)n * sizeof(*v));
	s->n = k;
	/* Callers give the resource's own bindings; any other would be out of
	 * the order, which a lookup would then miss. */
	for (int i = 0; i < n; i++)
		if (!same_resource(&s->v[lo + i], rtype, pattern, name)) {
			sort_entries(s->v, s->n);
			break;
		}
	pthread_rwlock_unlock(&s->lock);
	free(v);
}

void acl_store_replace(struct acl_store *s, struct acl_entry *v, int n)
{
	struct acl_entry *old;
	int old_n;

	/* Sorted before the lock: readers wait only for the swap. */
	sort_entries(v, n);
	pthread_rwlock_wrlock(&s->lock);
	old = s->v;
	old_n = s->n;
	s->v = v;
	s->n = n;
	s->cap = n;
	pthread_rwlock_unlock(&s->lock);
	acl_entries_free(old, old_n);
}
/* Copies the bindings keep() accepts; the count or -ENOMEM. */
static int copy_where(struct acl_store *s, bool (*keep)(const void *arg, const struct acl_entry *e),
		      const void *arg, struct acl_entry **out)
{
	struct acl_entry *v;
	int n = 0, rc = 0;

	pthread_rwlock_rdlock(&s->lock);
	v = calloc((size_t)s->n + 1, sizeof(*v));
	for (int i = 0; v && i < s->n && rc == 0; i++)
		if (keep(arg, &s->v[i]) && (rc = acl_entry_copy(&s->v[i], &v[n])) == 0)
			n++;
	pthread_rwlock_unlock(&s->lock);
	if (!v || rc) {
		acl_entries_free(v, n);
		return -ENOMEM;
	}
	*out = v;
	return n;
}

static bool keep_filter(const void *arg, const struct acl_entry *e)
{
	return acl_filter_matches(arg, e);
}

int acl_store_find(struct acl_store *s, const struct acl_entry *f, struct acl_entry **out)
{
	return copy_where(s, keep_filter, f, out);
}

int acl_store_resource(struct acl_store *s, int rtype, int pattern, const char *name,
		       struct acl_entry **out)
{
	struct acl_entry f = { (int8_t)rtype, (int8_t)pattern, ACL_OP_ANY,
			       ACL_PERM_ANY,  (char *)name,    NULL,
			       NULL };

	return copy_where(s, keep_filter, &f, out);
}

bool acl_super_user(struct acl_store *s, const char *principal)
{
	for (int i = 0; i < s->n_supers; i++)
		if (!strcmp(s->supers[i], principal))
			return true;
	return false;
}

/* Step 3: the binding applies to this principal and host. */
static bool applies(const struct acl_entry *e, const char *principal, const char *host)
{
	return (!strcmp(e->principal, principal) || !strcmp(e->principal, "User:*")) &&
	       (!strcmp(e->host, host) || !strcmp(e->host, ACL_WILDCARD));
}

/* A walk over the bindings of type rtype whose pattern covers name
 * (pattern_covers), resource by resource, as Kafka's matchingAcls looks
 * them up: the LITERAL name, the LITERAL "*", then name's prefixes
 * (the empty one first) as PREFIXED patterns. */
enum { COVER_LITERAL, COVER_WILDCARD, COVER_PREFIXED, COVER_DONE };
struct cover {
	const struct acl_store *s;
	int rtype;
	const char *name;
	size_t len;
	int stage;     /* what is looked up next */
	bool wildcard; /* whether the LITERAL "*" counts */
	size_t plen;   /* the next prefix's length */
	int i, end;    /* the rest of the resource looked up last */
	int plo, phi;  /* the PREFIXED patterns of the type not passed yet */
};

static void cover_init(struct cover *c, const struct acl_store *s, int rtype, const char *name,
		       int from, bool wildcard)
{
	c->s = s;
	c->rtype = rtype;
	c->name = name;
	c->len = strlen(name);
	c->stage = from;
	c->wildcard = wildcard && strcmp(name, ACL_WILDCARD);
	c->plen = 0;
	c->i = c->end = 0;
	c->plo = lower_bound(s, 0, s->n, rtype, ACL_PAT_PREFIXED, "", 0);
	c->phi = lower_bound(s, c->plo, s->n, rtype, ACL_PAT_PREFIXED + 1, "", 0);
}

/* Sets [i, end) to the bindings of the resource, looked for in [lo, hi). */
static void cover_resource(struct cover *c, int lo, int hi, int pattern, const char *name,
			   size_t len)
{
	c->i = lower_bound(c->s, lo, hi, c->rtype, pattern, name, len);
	c->end = resource_end(c->s, c->i, hi, c->rtype, pattern, name, len);
}

static const struct acl_entry *cover_next(struct cover *c)
{
	const struct acl_store *s = c->s;

	while (c->i >= c->end) {
		switch (c->stage) {
		case COVER_LITERAL:
			cover_resource(c, 0, s->n, ACL_PAT_LITERAL, c->name, c->len);
			c->stage = c->wildcard ? COVER_WILDCARD : COVER_PREFIXED;
			break;
		case COVER_WILDCARD:
			cover_resource(c, 0, s->n, ACL_PAT_LITERAL, ACL_WILDCARD, 1);
			c->stage = COVER_PREFIXED;
			break;
		case COVER_PREFIXED:
			/* The patterns that start with this prefix (the
			 * longer prefixes among them) sort together from
			 * the first not before it: when that one does not
			 * start with it, no longer prefix is a pattern. */
			if (c->plen <= c->len)
				c->plo = lower_bound(s, c->plo, c->phi, c->rtype, ACL_PAT_PREFIXED,
						     c->name, c->plen);
			if (c->plen > c->len || c->plo == c->phi ||
			    strncmp(s->v[c->plo].resource_name, c->name, c->plen)) {
				c->stage = COVER_DONE;
				break;
			}
			cover_resource(c, c->plo, c->phi, ACL_PAT_PREFIXED, c->name, c->plen);
			c->plen++;
			break;
		default: return NULL;
		}
	}
	return &s->v[c->i++];
}

/* Steps 2-6 under the read lock. */
static bool decide(struct acl_store *s, const char *principal, const char *host, int op, int rtype,
		   const char *name)
{
	int32_t allow_ops = BIT(op) | BIT(ACL_OP_ALL);
	bool any = false, allowed = false;
	const struct acl_entry *e;
	struct cover c;

	if (op == ACL_OP_DESCRIBE)
		allow_ops |= BIT(ACL_OP_READ) | BIT(ACL_OP_WRITE) | BIT(ACL_OP_DELETE) |
			     BIT(ACL_OP_ALTER);
	else if (op == ACL_OP_DESCRIBE_CONFIGS)
		allow_ops |= BIT(ACL_OP_ALTER_CONFIGS);
	cover_init(&c, s, rtype, name, COVER_LITERAL, true);
	while ((e = cover_next(&c))) {
		any = true;
		if (!applies(e, principal, host))
			continue;
		if (e->permission == ACL_PERM_DENY &&
		    (e->operation == op || e->operation == ACL_OP_ALL))
			return false;
		if (e->permission == ACL_PERM_ALLOW && (allow_ops & BIT(e->operation)))
			allowed = true;
	}
	return any ? allowed : s->allow_everyone;
}

bool acl_authorize(struct acl_store *s, const char *principal, const char *host, int op, int rtype,
		   const char *name)
{
	bool ok;

	if (acl_super_user(s, principal))
		return true;
	pthread_rwlock_rdlock(&s->lock);
	ok = decide(s, principal, host, op, rtype, name);
	pthread_rwlock_unlock(&s->lock);
	return ok;
}

/* Whether a DENY for the principal, host and op of type rtype covers the
 * allowed pattern (pattern, name) whole (AclAuthorizer's allowLiteral and
 * allowPrefix): a LITERAL deny of the same literal name, or a PREFIXED
 * deny that is a prefix of it (hasDominantPrefixedDeny). A LITERAL "*"
 * allow is never covered: a LITERAL "*" deny refused before. */
static bool denied_whole(struct acl_store *s, const char *principal, const char *host, int op,
			 int rtype, int pattern, const char *name)
{
	const struct acl_entry *e;
	struct cover c;

	if (pattern == ACL_PAT_LITERAL && !strcmp(name, ACL_WILDCARD))
		return false;
	cover_init(&c, s, rtype, name, pattern == ACL_PAT_LITERAL ? COVER_LITERAL : COVER_PREFIXED,
		   false);
	while ((e = cover_next(&c)))
		if (e->permission == ACL_PERM_DENY &&
		    (e->operation == op || e->operation == ACL_OP_ALL) &&
		    applies(e, principal, host))
			return true;
	return false;
}

/* AclAuthorizer.authorizeByResourceType, step by step: a LITERAL "*"
 * DENY refuses; else allow.everyone.if.no.acl.found allows (whatever
 * ACLs there are: unlike a single resource's decision, Kafka does not
 * look whether the type has any); else, without a DENY, any ALLOW
 * allows; else an ALLOW that no DENY covers whole. Only the bindings
 * that apply to the principal, host and op (or All) count; they are
 * those of the type's range of the store. */
bool acl_authorize_any(struct acl_store *s, const char *principal, const char *host, int op,
		       int rtype)
{
	bool deny_all = false, denies = false, ok = false;
	int lo, hi;

	if (acl_super_user(s, principal))
		return true;
	pthread_rwlock_rdlock(&s->lock);
	lo = lower_bound(s, 0, s->n, rtype, ACL_PAT_UNKNOWN, "", 0);
	hi = lower_bound(s, lo, s->n, rtype + 1, ACL_PAT_UNKNOWN, "", 0);
	for (int i = lo; i < hi; i++) {
		const struct acl_entry *e = &s->v[i];

		if (e->permission != ACL_PERM_DENY ||
		    (e->operation != op && e->operation != ACL_OP_ALL) ||
		    !applies(e, principal, host))
			continue;
		denies = true;
		if (e->pattern_type == ACL_PAT_LITERAL && !strcmp(e->resource_name, ACL_WILDCARD))
			deny_all = true;
	}
	if (!deny_all && s->allow_everyone)
		ok = true;
	for (int i = lo; i < hi && !deny_all && !ok; i++) {
		const struct acl_entry *e = &s->v[i];

		if (e->permission == ACL_PERM_ALLOW &&
		    (e->operation == op || e->operation == ACL_OP_ALL) &&
		    applies(e, principal, host) &&
		    (!denies || !denied_whole(s, principal, host, op, rtype, e->pattern_type,
					      e->resource_name)))
			ok = true;
	}
	pthread_rwlock_unlock(&s->lock);
	return ok;
}

int32_t acl_authorized_ops(struct acl_store *s, const char *principal, const char *host, int rtype,
			   const char *name)
{
	int32_t ops = supported_ops(rtype), out = 0;
	bool super = acl_super_user(s, principal);

	pthread_rwlock_rdlock(&s->lock);
	for (int op = 0; op < N_OPS; op++)
		if ((ops & BIT(op)) && (super || decide(s, principal, host, op, rtype, name)))
			out |= BIT(op);
	pthread_rwlock_unlock(&s->lock);
	return out;
}
