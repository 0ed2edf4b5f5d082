/*
 * replay.c — runs a fuzz target over files without libFuzzer, so that the
 * checked-in corpus is replayed by `make test` (and `make asan`) with the
 * normal compiler:
 *
 *   replay-<target> FILE|DIR...
 *
 * Each file (each regular file of a directory, in name order) is read
 * whole and given to LLVMFuzzerTestOneInput once. A crash or abort() ends
 * the run with that signal, after the file's name was printed; otherwise
 * it prints "<n> inputs" and exits 0. An empty corpus is an error: a replay
 * that runs nothing cannot fail.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			uint8_t *nb = realloc(buf, cap);
			if (!nb) {
				fclose(f);
				free(buf);
				return -1;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	fprintf(stderr, "replay: %s\n", path);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	long runs = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		struct dirent **ents;
		int n;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 2;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) < 0)
				return 2;
			runs++;
			continue;
		}
		n = scandir(argv[i], &ents, NULL, by_name);
		if (n < 0)
			return 2;
		for (int k = 0; k < n; k++) {
			char path[4096];

			snprintf(path, sizeof(path), "%s/%s", argv[i], ents[k]->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				if (run_file(path) < 0)
					return 2;
				runs++;
			}
			free(ents[k]);
		}
		free(ents);
	}
	if (runs == 0) {
		fprintf(stderr, "replay: no inputs\n");
		return 2;
	}
	printf("%ld inputs\n", runs);
	return 0;
}
