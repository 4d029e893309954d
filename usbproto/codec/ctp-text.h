/*
 * Text field validation (internal to usbproto/codec): what PROTOCOL.md allows
 * in a "utf8" or "token" field.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* well-formed UTF-8 (shortest form, no surrogates, <= U+10FFFF) without control
 * characters U+0000..U+001F and U+007F..U+009F: text may end up on a terminal */
bool ctp_text_is_valid_utf8(const uint8_t *s, size_t len);

/* printable ASCII without space (0x21..0x7E): serial numbers */
bool ctp_text_is_token(const uint8_t *s, size_t len);
