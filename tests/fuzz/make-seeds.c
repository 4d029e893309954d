/*
 * Writes the seed corpora of the CTP fuzz targets from the unit test's sample
 * messages (tests/unit/ctp-test-messages.c):
 *   corpus/fuzz-ctp-message-device/  every request sample, one frame per file
 *   corpus/fuzz-ctp-message-host/    every response sample
 *   corpus/fuzz-ctp-frame/           every sample, plus damaged frames
 * Usage: make-seeds CORPUS-DIR   (run by 'make fuzz-seeds'; the output is committed)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/unit/ctp-test-messages.h"

static uint8_t frame[CTP_MAX_FRAME + 1];

static int
write_file(const char *dir, const char *target, const char *name, const uint8_t *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "make-seeds: cannot create %s: %s\n", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "make-seeds: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);
	unsigned written = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		const ctp_message *m = &samples[i].msg;
		const char *side = ctp_message_type_is_request(m->type) ? "fuzz-ctp-message-device"
		                                                        : "fuzz-ctp-message-host";
		char name[128];
		size_t len = 0;
		ctp_result r = ctp_message_encode(m, frame, sizeof(frame), &len);

		if (r != CTP_OK) {
			fprintf(stderr, "make-seeds: %s: %s\n", samples[i].name,
			        ctp_result_to_string(r));
			return 1;
		}
		snprintf(name, sizeof(name), "%s.bin", samples[i].name);
		if (write_file(argv[1], side, name, frame, len) != 0 ||
		    write_file(argv[1], "fuzz-ctp-frame", name, frame, len) != 0)
			return 1;
		written += 2;

		/* damaged variants for the frame target: cut short, one byte more, bad
		 * checksum; of the small frames only, to keep the corpus small */
		if (len > 4096)
			continue;
		snprintf(name, sizeof(name), "%s-truncated.bin", samples[i].name);
		if (write_file(argv[1], "fuzz-ctp-frame", name, frame, len - 1) != 0)
			return 1;
		frame[len] = 0;
		snprintf(name, sizeof(name), "%s-trailing.bin", samples[i].name);
		if (write_file(argv[1], "fuzz-ctp-frame", name, frame, len + 1) != 0)
			return 1;
		frame[12] ^= 0x01;
		snprintf(name, sizeof(name), "%s-badcrc.bin", samples[i].name);
		if (write_file(argv[1], "fuzz-ctp-frame", name, frame, len) != 0)
			return 1;
		written += 3;
	}
	printf("make-seeds: %u files from %zu sample messages written to %s\n", written, n,
	       argv[1]);
	return 0;
}
