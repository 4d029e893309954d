/*
 * CTP frame header: encode, decode, checksum. libc only, no allocation.
 *
 * Header layout (all integers little-endian), see usbproto/PROTOCOL.md:
 *   0 'C'  1 'T'  2 frame version  3 type  4..5 flags  6..7 request id
 *   8..11 payload length  12..15 CRC-32 over bytes 0..11 then the payload
 */
#include "usbproto/codec/ctp-frame.h"

#include "usbproto/codec/ctp-le.h"

/* half-byte table: 64 bytes of constants instead of 1 KiB, fast enough for 64 KiB frames */
static const uint32_t crc32_nibble[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

uint32_t
ctp_crc32(uint32_t crc, const uint8_t *buf, size_t len)
{
	crc = ~crc;
	for (size_t i = 0; i < len; i++) {
		crc ^= buf[i];
		crc = (crc >> 4) ^ crc32_nibble[crc & 0x0f];
		crc = (crc >> 4) ^ crc32_nibble[crc & 0x0f];
	}
	return ~crc;
}

/* the checksum covers the header up to (not including) the crc field, then the payload */
static uint32_t
frame_crc(const uint8_t *header, const uint8_t *payload, size_t payload_len)
{
	uint32_t crc = ctp_crc32(0, header, 12);
	return ctp_crc32(crc, payload, payload_len);
}

ctp_result
ctp_frame_decode(const uint8_t *buf, size_t len, ctp_frame *frame)
{
	uint32_t payload_len;

	if (buf == NULL || frame == NULL)
		return CTP_E_INVALID_ARG;
	if (len < CTP_HEADER_SIZE)
		return CTP_E_TRUNCATED;
	if (buf[0] != CTP_MAGIC_0 || buf[1] != CTP_MAGIC_1)
		return CTP_E_MAGIC;
	if (buf[2] != CTP_FRAME_VERSION)
		return CTP_E_FRAME_VERSION;
	payload_len = ctp_le32(buf + 8);
	if (payload_len > CTP_MAX_PAYLOAD)
		return CTP_E_TOO_LARGE;
	if (len - CTP_HEADER_SIZE < payload_len)
		return CTP_E_TRUNCATED;
	if (len - CTP_HEADER_SIZE > payload_len)
		return CTP_E_TRAILING;
	/* checksum before interpreting anything else: a corrupted flag is a corrupted frame */
	if (frame_crc(buf, buf + CTP_HEADER_SIZE, payload_len) != ctp_le32(buf + 12))
		return CTP_E_CRC;
	if (ctp_le16(buf + 4) != 0)
		return CTP_E_FLAGS;

	frame->version = buf[2];
	frame->type = buf[3];
	frame->flags = 0;
	frame->request_id = ctp_le16(buf + 6);
	frame->payload_len = payload_len;
	frame->payload = buf + CTP_HEADER_SIZE;
	return CTP_OK;
}

ctp_result
ctp_frame_seal(uint8_t *buf,
               size_t cap,
               uint8_t type,
               uint16_t request_id,
               size_t payload_len,
               size_t *frame_len)
{
	if (buf == NULL)
		return CTP_E_INVALID_ARG;
	if (payload_len > CTP_MAX_PAYLOAD)
		return CTP_E_TOO_LARGE;
	if (cap < CTP_HEADER_SIZE || cap - CTP_HEADER_SIZE < payload_len)
		return CTP_E_NO_SPACE;

	buf[0] = CTP_MAGIC_0;
	buf[1] = CTP_MAGIC_1;
	buf[2] = CTP_FRAME_VERSION;
	buf[3] = type;
	ctp_put_le16(buf + 4, 0);
	ctp_put_le16(buf + 6, request_id);
	ctp_put_le32(buf + 8, (uint32_t)payload_len);
	ctp_put_le32(buf + 12, frame_crc(buf, buf + CTP_HEADER_SIZE, payload_len));
	if (frame_len != NULL)
		*frame_len = CTP_HEADER_SIZE + payload_len;
	return CTP_OK;
}

const char *
ctp_result_to_string(ctp_result r)
{
	switch (r) {
	case CTP_OK:
		return "success";
	case CTP_E_TRUNCATED:
		return "truncated: fewer bytes than the declared lengths need";
	case CTP_E_MAGIC:
		return "not a CTP frame (bad magic)";
	case CTP_E_FRAME_VERSION:
		return "unknown frame version";
	case CTP_E_CRC:
		return "checksum mismatch";
	case CTP_E_TOO_LARGE:
		return "payload too large";
	case CTP_E_TRAILING:
		return "trailing bytes after the frame or the last field";
	case CTP_E_FLAGS:
		return "reserved flag bits set";
	case CTP_E_UNKNOWN_TYPE:
		return "unknown message type";
	case CTP_E_FIELD_LENGTH:
		return "field length out of bounds";
	case CTP_E_FIELD_ORDER:
		return "fields out of order or duplicated";
	case CTP_E_UNKNOWN_FIELD:
		return "unknown mandatory field";
	case CTP_E_MISSING_FIELD:
		return "mandatory field missing";
	case CTP_E_BAD_VALUE:
		return "field value not allowed";
	case CTP_E_TOO_MANY:
		return "repeated field occurs too often";
	case CTP_E_NO_SPACE:
		return "output buffer too small";
	case CTP_E_INVALID_ARG:
		return "invalid message or argument";
	}
	return "unknown result";
}
