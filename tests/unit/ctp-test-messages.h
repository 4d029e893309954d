/*
 * A set of valid CTP messages of every type, from minimal to every field at its
 * largest; shared by the codec unit test and the fuzz seed generator.
 */
#pragma once

#include <stddef.h>

#include "usbproto/codec/ctp-message.h"

typedef struct {
	const char *name; /* file-name friendly, e.g. "hello-min" */
	ctp_message msg;
} ctp_test_message;

/* the samples; byte fields point to static storage that lives as long as the process */
const ctp_test_message *ctp_test_messages(size_t *n_messages);
