/*  ob_gw_openapi: gateway/openapi.json, compiled into the daemon (gateway/CMakeLists.txt
    writes openapi_doc.c from it at configure time, again whenever it changes), served at
    GET /v1/openapi.json (rest.h). */
#ifndef OB_GW_OPENAPI_DOC_H
#define OB_GW_OPENAPI_DOC_H

#include <stddef.h>

extern const unsigned char ob_gw_openapi[]; /* the document's bytes (not NUL-terminated) */
extern const size_t ob_gw_openapi_len;      /* bytes at ob_gw_openapi */

#endif
