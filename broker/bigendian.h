/*  Big-endian integers in the broker's persistent records and keys (store_lmdb.c,
    subs_persist.c): big-endian so that LMDB's bytewise key order is numeric order. */
#ifndef OB_BIGENDIAN_H
#define OB_BIGENDIAN_H

#include <stdint.h>

static inline void
ob_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void
ob_put_u64(uint8_t *p, uint64_t v)
{
    ob_put_u32(p, (uint32_t)(v >> 32));
    ob_put_u32(p + 4, (uint32_t)v);
}

static inline uint32_t
ob_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t
ob_get_u64(const uint8_t *p)
{
    return (uint64_t)ob_get_u32(p) << 32 | ob_get_u32(p + 4);
}

#endif
