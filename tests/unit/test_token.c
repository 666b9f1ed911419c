/*  test_token: common/token.h. Generated tokens have the documented form and differ; the
    hash matches an independent computation (Python's hashlib.blake2b over the documented
    input); the hex form round-trips; malformed tokens and hashes are refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orderbus/error.h"
#include "token.h"

/* python3 -c "import hashlib; print(hashlib.blake2b(b'orderbus.gateway.token.v1\0' + T,
   digest_size=32).hexdigest())" for each token T below */
static const struct {
    const char *token; /* a token */
    const char *hash;  /* its hash in hex */
} s_vectors[] = {
    {"obt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE",
     "d3f65c665a27e163800b50ef251df0ac7c9ded147f6c54b125011cc91840b93a"},
    {"obt_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE",
     "88f5c676470b6337afbf3e01c7a63d5fefe2e74ceafeeabe08e0e0d8836f2278"},
};

static void
test_generate(void **state)
{
    (void)state;
    char a[OB_TOKEN_TEXT], b[OB_TOKEN_TEXT];
    assert_int_equal(ob_token_generate(a), 0);
    assert_int_equal(ob_token_generate(b), 0);
    assert_int_equal(strlen(a), OB_TOKEN_LEN);
    assert_memory_equal(a, "obt_", 4);
    assert_true(ob_token_valid(a, strlen(a)));
    assert_true(ob_token_valid(b, strlen(b)));
    assert_string_not_equal(a, b);
    uint8_t ha[OB_TOKEN_HASH_BYTES], hb[OB_TOKEN_HASH_BYTES];
    assert_int_equal(ob_token_hash(a, strlen(a), ha), 0);
    assert_int_equal(ob_token_hash(b, strlen(b), hb), 0);
    assert_memory_not_equal(ha, hb, sizeof ha);
}

static void
test_hash_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_vectors / sizeof s_vectors[0]; i++) {
        uint8_t hash[OB_TOKEN_HASH_BYTES], back[OB_TOKEN_HASH_BYTES];
        char hex[OB_TOKEN_HASH_TEXT];
        assert_int_equal(ob_token_hash(s_vectors[i].token, strlen(s_vectors[i].token), hash), 0);
        ob_token_hash_format(hash, hex);
        assert_string_equal(hex, s_vectors[i].hash);
        assert_int_equal(ob_token_hash_parse(hex, back), 0);
        assert_memory_equal(back, hash, sizeof hash);
    }
}

static void
test_refused(void **state)
{
    (void)state;
    static const char *const tokens[] = {
        "",
        "obt_",
        "obt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* 42 characters */
        "obt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 44 */
        "obx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE",
        "OBT_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE",
        "obt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", /* padding */
        "obt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+", /* standard alphabet */
        "obt_AAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAAE", /* a space */
        "Bearer obt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE",
    };
    uint8_t hash[OB_TOKEN_HASH_BYTES];
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
        memset(hash, 0x5a, sizeof hash);
        assert_false(ob_token_valid(tokens[i], strlen(tokens[i])));
        assert_int_equal(ob_token_hash(tokens[i], strlen(tokens[i]), hash),
                         OB_ERR_INVALID_ARGUMENT);
        assert_int_equal(hash[0], 0x5a); /* nothing written */
    }
    /* a NUL inside: the length counts */
    static const char nul[] = "obt_AAAAAAAAAAAAAAAAAAAAA\0AAAAAAAAAAAAAAAAAAAAAE";
    assert_false(ob_token_valid(nul, sizeof nul - 1));
    assert_false(ob_token_valid(NULL, 0));

    static const char *const hashes[] = {
        "",
        "d3f65c665a27e163800b50ef251df0ac7c9ded147f6c54b125011cc91840b93",   /* 63 */
        "d3f65c665a27e163800b50ef251df0ac7c9ded147f6c54b125011cc91840b93a0", /* 65 */
        "D3F65C665A27E163800B50EF251DF0AC7C9DED147F6C54B125011CC91840B93A",  /* upper case */
        "g3f65c665a27e163800b50ef251df0ac7c9ded147f6c54b125011cc91840b93a",
        "d3f65c665a27e163800b50ef251df0ac:c9ded147f6c54b125011cc91840b93a",
    };
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++) {
        memset(hash, 0x5a, sizeof hash);
        assert_int_equal(ob_token_hash_parse(hashes[i], hash), OB_ERR_INVALID_ARGUMENT);
        assert_int_equal(hash[0], 0x5a);
    }
    assert_int_equal(ob_token_hash_parse(NULL, hash), OB_ERR_INVALID_ARGUMENT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_hash_vectors),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
