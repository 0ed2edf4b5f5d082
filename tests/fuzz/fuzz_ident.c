/*
 * fuzz_ident.c — libFuzzer target: the files that say whose a data
 * directory is, as a crash, a hand edit or another tool left them:
 * <topic>-<p>/partition.metadata (engine/logmgr.c, logmgr_topic_id),
 * meta/zk-cluster.id (repl/cluster.c, cluster_id_file_read) and
 * meta/broker.id (cluster_data_dir_check of broker 7 in a cluster).
 *
 * The input's first byte chooses the file; the rest is its content.
 *
 * Properties checked (abort() on a violation):
 *   - each file is taken or refused: partition.metadata gives 1 (an id)
 *     or -EBADMSG with a line in the log; zk-cluster.id 0 or -EBADMSG;
 *     broker.id 0 (broker 7's), -EMEDIUMTYPE (another broker's) or
 *     -EBADMSG (not an id), no other error;
 *   - what is taken is the file's whole content in the format its writer
 *     gives it, nothing before it and nothing after: "version: 0\n
 *     topic_id: <id>\n" (then anything: Kafka's reader reads two lines),
 *     the id and maybe its newline, the broker id in decimal digits and
 *     maybe its newline. A longer file whose start reads as an id is
 *     another id (or none), never the one it starts with.
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address, and by `make
 * test` with the corpus replay driver (replay.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "repl/cluster.h"
#include "repl/config.h"
#include "repl/zkdata.h"
#include "tests/fuzz/fuzzdir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static struct io_ops io;
static int warnings; /* lines the engine logged */
static struct broker_config *cfg;

static void note(int level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
	warnings++;
}

static void init(void)
{
	fuzzdir_init(dir, sizeof(dir), "ident", &io);
	engine_helper_threads = 0;
	engine_log = note;
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		abort();
	broker_config_defaults(cfg);
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", dir);
	snprintf(cfg->cluster.zk_connect, sizeof(cfg->cluster.zk_connect), "127.0.0.1:1");
	cfg->broker_id = 7;
}

/* Whether b[0..n) is s and then maybe a newline, nothing else. */
static bool exactly(const uint8_t *b, size_t n, const char *s)
{
	size_t k = strlen(s);

	return (n == k || (n == k + 1 && b[k] == '\n')) && !memcmp(b, s, k);
}

static void check_topic_id(const uint8_t *b, size_t n)
{
	static const char head[] = "version: 0\ntopic_id: ";
	struct logmgr *m;
	char id[64], want[96];
	int rc;

	fuzzdir_put(dir, "t-0/partition.metadata", b, n);
	if (logmgr_open(dir, &io, &m) < 0)
		abort();
	warnings = 0;
	rc = logmgr_topic_id(m, "t", 0, id, sizeof(id));
	logmgr_abandon(m);
	if (rc == -EBADMSG && warnings)
		return;
	if (rc != 1 || warnings)
		abort();
	/* Its first two lines, as the writer puts them. */
	snprintf(want, sizeof(want), "%s%s\n", head, id);
	if (n < strlen(want) || memcmp(b, want, strlen(want)) || memchr(b, '\0', strlen(want)))
		abort();
}

static void check_cluster_id(const uint8_t *b, size_t n)
{
	char id[ZK_UUID_LEN + 1];
	int rc;

	fuzzdir_put(dir, "meta/zk-cluster.id", b, n);
	rc = cluster_id_file_read(dir, "zk-cluster.id", id);
	if (rc == -EBADMSG)
		return;
	if (rc != 0 || !zk_uuid_valid(id) || !exactly(b, n, id))
		abort();
}

static void check_broker_id(const uint8_t *b, size_t n)
{
	static const uint8_t joined[] = "AAAAAAAAAAAAAAAAAAAAAQ\n";
	char *text;
	size_t digits;
	int rc;

	fuzzdir_put(dir, "meta/zk-cluster.id", joined, sizeof(joined) - 1);
	fuzzdir_put(dir, "meta/broker.id", b, n);
	rc = cluster_data_dir_check(cfg);
	if (rc == -EBADMSG)
		return;
	if (rc != 0 && rc != -EMEDIUMTYPE)
		abort();
	/* Taken as an id: decimal digits, maybe a newline. */
	text = malloc(n + 1);
	if (!text)
		abort();
	memcpy(text, b, n);
	text[n] = '\0';
	digits = strspn(text, "0123456789");
	if (digits == 0 || digits + (text[digits] == '\n') != n ||
	    (rc == 0) != (strtoll(text, NULL, 10) == 7))
		abort();
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];

	if (size < 1)
		return 0;
	if (!dir[0])
		init();
	fuzzdir_empty(dir);
	snprintf(path, sizeof(path), "%s/t-0", dir);
	if (mkdir(path, 0755) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/meta", dir);
	if (mkdir(path, 0755) < 0)
		abort();
	switch (data[0] % 3) {
	case 0: check_topic_id(data + 1, size - 1); break;
	case 1: check_cluster_id(data + 1, size - 1); break;
	default: check_broker_id(data + 1, size - 1); break;
	}
	return 0;
}
