/*  ob_token: the bearer tokens of the gateway's REST API (issue 15), shared by orderbus-keys,
    which makes them, and the gateway, which checks them against its tokens file.

    A token is OB_TOKEN_PREFIX followed by OB_TOKEN_BYTES random bytes (randombytes_buf) in
    base64url without padding (43 characters): "obt_" + 43 = 47 characters. The prefix lets
    secret scanners and people recognise one. Only its hash is ever stored:
        hash = BLAKE2b-256 (crypto_generichash, no key) of OB_TOKEN_DOMAIN and its NUL,
               then the token's 47 bytes
    written in the tokens file as 64 lowercase hex digits.

    Why a fast unsalted hash is sound here and not for passwords: a slow, salted KDF
    (crypto_pwhash, Argon2id) exists because passwords are guessable: from a stolen hash an
    attacker tries likely passwords, and only the cost per guess protects them. A token is
    256 bits from the system's CSPRNG: there is nothing likely to try, a search of its space
    is 2^255 hashes on average whatever the hash's speed, and a precomputed table over it
    cannot exist, so a salt adds nothing. What remains needed of the hash is preimage
    resistance, which BLAKE2b-256 gives. The speed matters: the gateway hashes the token of
    every request, and Argon2id's tens of milliseconds per request would be both a denial of
    service and a cap on throughput. The domain string keeps these digests apart from every
    other BLAKE2b use of ours. A human-chosen secret must never be used as a token.

    Comparison: the gateway finds the entry by the digest's first bytes and compares the
    whole digest with sodium_memcmp (constant time). What timing can reveal is then about
    the digest of the token the attacker sent, not about any stored token.

    Nothing here logs; nothing keeps a token: a caller that holds one wipes it
    (sodium_memzero) when done. */
#ifndef OB_TOKEN_H
#define OB_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OB_TOKEN_PREFIX "obt_" /* first characters of every token */
#define OB_TOKEN_PREFIX_LEN 4  /* strlen(OB_TOKEN_PREFIX) */
#define OB_TOKEN_BYTES 32      /* random bytes of a token */
#define OB_TOKEN_B64_LEN 43    /* base64url characters of 32 bytes, no '=' */
#define OB_TOKEN_LEN (OB_TOKEN_PREFIX_LEN + OB_TOKEN_B64_LEN) /* characters of a token: 47 */
#define OB_TOKEN_TEXT (OB_TOKEN_LEN + 1)                      /* a token with its NUL */
#define OB_TOKEN_HASH_BYTES 32                                /* BLAKE2b-256 */
#define OB_TOKEN_HASH_HEX (2 * OB_TOKEN_HASH_BYTES)           /* hex digits of a hash: 64 */
#define OB_TOKEN_HASH_TEXT (OB_TOKEN_HASH_HEX + 1)            /* a hash in hex with its NUL */
#define OB_TOKEN_DOMAIN "orderbus.gateway.token.v1"           /* hashed first, with its NUL */

/* Makes a new random token into ret_token (NUL-terminated). The caller wipes it
   (sodium_memzero) once it has been shown. Returns 0, -EIO if libsodium cannot be
   initialised, or -ENOMEM. */
int ob_token_generate(char ret_token[OB_TOKEN_TEXT]);

/* Returns 1 if text (len bytes, borrowed, need not be NUL-terminated) has the form of a
   token: OB_TOKEN_PREFIX then OB_TOKEN_B64_LEN characters of [A-Za-z0-9_-]; else 0. */
int ob_token_valid(const char *text, size_t len);

/* Writes the hash of the token text (len bytes, borrowed) into ret_hash. Returns 0, or
   OB_ERR_INVALID_ARGUMENT (nothing written) if text is not a token (ob_token_valid). */
int ob_token_hash(const char *text, size_t len, uint8_t ret_hash[OB_TOKEN_HASH_BYTES]);

/* Writes hash as 64 lowercase hex digits and a NUL into ret_text. Cannot fail. */
void ob_token_hash_format(const uint8_t hash[OB_TOKEN_HASH_BYTES],
                          char ret_text[OB_TOKEN_HASH_TEXT]);

/* Reads a hash written by ob_token_hash_format from text (NUL-terminated, borrowed): exactly
   64 lowercase hex digits. Returns 0, or OB_ERR_INVALID_ARGUMENT (nothing written). */
int ob_token_hash_parse(const char *text, uint8_t ret_hash[OB_TOKEN_HASH_BYTES]);

#ifdef __cplusplus
}
#endif
#endif
