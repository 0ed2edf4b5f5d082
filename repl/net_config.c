/*
 * net_config.c — the listener's settings in Kafka's names (net.h, struct
 * net_config), so the broker configuration can hand them over line by line.
 *
 * A listener list is comma-separated entries PROTOCOL://HOST:PORT:
 *   PROTOCOL  PLAINTEXT or SASL_PLAINTEXT (case-insensitive, stored upper)
 *   HOST      an IPv4 address, a name, "[v6-address]", or empty: every
 *             address
 *   PORT      0..65535; 0 asks the kernel for a free port
 * Blanks around entries are ignored; names must be unique in one list
 * (Kafka requires distinct listener names).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "repl/net.h"

void net_config_default(struct net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->n_listeners = 1;
	snprintf(cfg->listeners[0].name, sizeof(cfg->listeners[0].name), "PLAINTEXT");
	cfg->listeners[0].security = NET_PLAINTEXT;
	cfg->listeners[0].port = 9092;
	cfg->sasl_scram[SASL_SHA_256] = true;
	cfg->num_network_threads = 3;
	cfg->num_io_threads = 8;
	cfg->socket_request_max_bytes = 104857600;
	cfg->sasl_max_receive_bytes = 524288;
	cfg->socket_response_max_bytes = 1 << 20;
	cfg->max_connections = INT_MAX;
	cfg->max_connections_per_ip = INT_MAX;
	cfg->connections_max_idle_ms = 600000;
	cfg->failed_auth_delay_ms = 100;
	cfg->connections_max_reauth_ms = 0;
	cfg->listener_reauth_ms = -1;
	for (int m = 0; m < SASL_N_MECH; m++)
		cfg->mechanism_reauth_ms[m] = -1;
	cfg->queued_max_requests = 500;
	cfg->queued_max_request_bytes = -1;
}

/* One entry "PROTO://host:port" of len bytes at s. */
static int parse_endpoint(const char *s, size_t len, struct net_endpoint *ep)
{
	const char *sep = NULL, *host, *colon, *end = s + len;
	char port[8];
	size_t hl, pl;
	char *tail;
	long v;

	for (const char *p = s; p + 3 <= end; p++)
		if (!memcmp(p, "://", 3)) {
			sep = p;
			break;
		}
	if (!sep || sep == s || (size_t)(sep - s) >= sizeof(ep->name))
		return -EINVAL;
	memset(ep, 0, sizeof(*ep));
	for (size_t i = 0; i < (size_t)(sep - s); i++)
		ep->name[i] = (char)toupper((unsigned char)s[i]);
	if (!strcmp(ep->name, "PLAINTEXT"))
		ep->security = NET_PLAINTEXT;
	else if (!strcmp(ep->name, "SASL_PLAINTEXT"))
		ep->security = NET_SASL_PLAINTEXT;
	else
		return -EINVAL;
	host = sep + 3;
	colon = NULL;
	for (const char *p = end; p > host; p--)
		if (p[-1] == ':') {
			colon = p - 1;
			break;
		}
	if (!colon)
		return -EINVAL;
	hl = (size_t)(colon - host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host++;
		hl -= 2;
	} else if (memchr(host, ':', hl) || memchr(host, '[', hl) || memchr(host, ']', hl)) {
		return -EINVAL; /* a v6 address must be bracketed */
	}
	if (hl > NET_MAX_HOST || !net_host_valid(host, hl))
		return -EINVAL;
	memcpy(ep->host, host, hl);
	pl = (size_t)(end - colon - 1);
	if (pl == 0 || pl >= sizeof(port))
		return -EINVAL;
	memcpy(port, colon + 1, pl);
	port[pl] = 0;
	for (size_t i = 0; i < pl; i++)
		if (!isdigit((unsigned char)port[i]))
			return -EINVAL;
	v = strtol(port, &tail, 10);
	if (*tail || v < 0 || v > 65535)
		return -EINVAL;
	ep->port = (int)v;
	return 0;
}

bool net_host_valid(const char *host, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)host[i]) && !strchr("-%._:", host[i]))
			return false;
	return true;
}

int net_listeners_parse(const char *text, struct net_endpoint *eps, int max)
{
	const char *p = text;
	int n = 0;

	while (*p) {
		const char *e = strchr(p, ',');
		const char *b, *z;

		if (!e)
			e = p + strlen(p);
		b = p;
		z = e;
		while (b < z && isspace((unsigned char)*b))
			b++;
		while (z > b && isspace((unsigned char)z[-1]))
			z--;
		if (b == z || n == max)
			return -EINVAL;
		if (parse_endpoint(b, (size_t)(z - b), &eps[n]))
			return -EINVAL;
		for (int i = 0; i < n; i++)
			if (!strcmp(eps[i].name, eps[n].name))
				return -EINVAL;
		n++;
		p = *e ? e + 1 : e;
		if (*e && !*p)
			return -EINVAL; /* trailing comma */
	}
	return n;
}

int net_listeners_format(const struct net_endpoint *eps, int n, char *buf, size_t cap)
{
	size_t at = 0;

	if (cap)
		buf[0] = 0;
	for (int i = 0; i < n; i++) {
		bool v6 = strchr(eps[i].host, ':') != NULL;
		int k = snprintf(buf + at, cap > at ? cap - at : 0, "%s%s://%s%s%s:%d",
				 i ? "," : "", eps[i].name, v6 ? "[" : "", eps[i].host,
				 v6 ? "]" : "", eps[i].port);

		if (k < 0 || at + (size_t)k >= cap)
			return -ENOSPC;
		at += (size_t)k;
	}
	return (int)at;
}

/* A decimal integer in [lo, hi]. */
static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *v)
{
	char *end;
	long long x;

	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return -EINVAL;
	errno = 0;
	x = strtoll(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || *end || x < lo || x > hi)
		return -EINVAL;
	*v = x;
	return 0;
}

/* sasl.enabled.mechanisms: a list of SCRAM-SHA-256 and SCRAM-SHA-512 (any
 * case, spaces around each); enabled ones into scram[SASL_N_MECH], the
 * others false. -EINVAL for a mechanism mqfs does not implement (Kafka's
 * GSSAPI, PLAIN, OAUTHBEARER), nothing changed. */
static int parse_mechanisms(const char *s, bool *scram)
{
	const char *p = s;
	bool on[SASL_N_MECH] = { 0 };

	while (*p) {
		const char *e = strchr(p, ',');
		const char *b = p, *z;

		if (!e)
			e = p + strlen(p);
		z = e;
		while (b < z && isspace((unsigned char)*b))
			b++;
		while (z > b && isspace((unsigned char)z[-1]))
			z--;
		int found = -1;

		for (int m = 0; m < SASL_N_MECH; m++)
			if (z - b == (long)strlen(sasl_mech_name((enum sasl_mech)m)) &&
			    !strncasecmp(b, sasl_mech_name((enum sasl_mech)m), (size_t)(z - b)))
				found = m;
		if (found >= 0)
			on[found] = true;
		else if (z != b)
			return -EINVAL; /* a mechanism we do not implement */
		p = *e ? e + 1 : e;
	}
	memcpy(scram, on, sizeof(on));
	return 0;
}

int64_t net_config_reauth_ms(const struct net_config *cfg, enum sasl_mech mech)
{
	if (cfg->mechanism_reauth_ms[mech] >= 0)
		return cfg->mechanism_reauth_ms[mech];
	if (cfg->listener_reauth_ms >= 0)
		return cfg->listener_reauth_ms;
	return cfg->connections_max_reauth_ms;
}

int net_config_set(struct net_config *cfg, const char *key, const char *value)
{
	struct net_endpoint eps[NET_MAX_LISTENERS];
	int64_t v;
	int n;

	if (!strcmp(key, "listeners") || !strcmp(key, "advertised.listeners")) {
		n = net_listeners_parse(value, eps, NET_MAX_LISTENERS);
		if (n < 0)
			return n;
		if (key[0] == 'l') {
			if (n == 0)
				return -EINVAL;
			memcpy(cfg->listeners, eps, sizeof(eps));
			cfg->n_listeners = n;
		} else {
			memcpy(cfg->advertised, eps, sizeof(eps));
			cfg->n_advertised = n;
		}
		return 0;
	}
	if (!strcmp(key, "sasl.enabled.mechanisms"))
		return parse_mechanisms(value, cfg->sasl_scram);
#define INT_KEY(name, field, lo, hi)              \
	if (!strcmp(key, name)) {                 \
		if (parse_int(value, lo, hi, &v)) \
			return -EINVAL;           \
		cfg->field = v;                   \
		return 0;                         \
	}
	INT_KEY("num.network.threads", num_network_threads, 1, NET_MAX_THREADS)
	INT_KEY("num.io.threads", num_io_threads, 1, NET_MAX_THREADS)
	INT_KEY("socket.request.max.bytes", socket_request_max_bytes, 1, INT32_MAX)
	INT_KEY("socket.response.max.bytes", socket_response_max_bytes, 1024, INT32_MAX)
	INT_KEY("sasl.server.max.receive.size", sasl_max_receive_bytes, 1, INT32_MAX)
	INT_KEY("max.connections", max_connections, 0, INT32_MAX)
	INT_KEY("max.connections.per.ip", max_connections_per_ip, 0, INT32_MAX)
	INT_KEY("connections.max.idle.ms", connections_max_idle_ms, 1, INT64_MAX / 2)
	INT_KEY("connection.failed.authentication.delay.ms", failed_auth_delay_ms, 0, INT32_MAX)
	INT_KEY("queued.max.requests", queued_max_requests, 1, INT32_MAX)
	INT_KEY("connections.max.reauth.ms", connections_max_reauth_ms, 0, INT64_MAX / 2)
	INT_KEY("listener.name.sasl_plaintext.connections.max.reauth.ms", listener_reauth_ms, 0,
		INT64_MAX / 2)
	INT_KEY("listener.name.sasl_plaintext.scram-sha-256.connections.max.reauth.ms",
		mechanism_reauth_ms[SASL_SHA_256], 0, INT64_MAX / 2)
	INT_KEY("listener.name.sasl_plaintext.scram-sha-512.connections.max.reauth.ms",
		mechanism_reauth_ms[SASL_SHA_512], 0, INT64_MAX / 2)
#undef INT_KEY
	if (!strcmp(key, "queued.max.request.bytes")) {
		/* -1 (no limit) or a positive size, as Kafka allows. */
		if (parse_int(value, -1, INT64_MAX / 2, &v) || v == 0)
			return -EINVAL;
		cfg->queued_max_request_bytes = v;
		return 0;
	}
	return -ENOENT;
}
