/*
 * Replays a fuzz corpus through the fuzz target without libFuzzer, so the
 * corpus runs in `make test` (and under the sanitizers).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	static uint8_t data[65536];
	unsigned count = 0;

	for (int a = 1; a < argc; a++) {
		DIR *d = opendir(argv[a]);
		struct dirent *e;
		if (d == NULL) {
			perror(argv[a]);
			return 1;
		}
		while ((e = readdir(d)) != NULL) {
			char path[4096];
			FILE *f;
			size_t n;
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[a], e->d_name);
			f = fopen(path, "rb");
			if (f == NULL)
				continue;
			n = fread(data, 1, sizeof(data), f);
			fclose(f);
			LLVMFuzzerTestOneInput(data, n);
			count++;
		}
		closedir(d);
	}
	printf("fuzz-replay: %u inputs replayed, none crashed\n", count);
	return count > 0 ? 0 : 1;
}
