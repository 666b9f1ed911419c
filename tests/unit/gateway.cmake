# The gateway's pure logic (gateway/, ob_gateway_core, issue 14): Marketplace response
# parsers, the enriched event and its id, the feed cursor against scripted feeds, the OMS
# commands and their outcomes. No HTTP, no broker: the classes are driven directly.
# The parsers' tests wrap the allocator (-Wl,--wrap, gw_alloc.c) to fail each allocation
# in turn.
set(OB_GW_WRAP_ALLOC -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc
    -Wl,--wrap=strdup)
ob_cmocka_test(test_gw_mp_parse
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_mp_parse.c
          ${CMAKE_CURRENT_SOURCE_DIR}/unit/gw_alloc.c
  LIBS ob_gateway_core PkgConfig::JANSSON ${OB_GW_WRAP_ALLOC})
ob_cmocka_test(test_gw_mp_event
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_mp_event.c
  LIBS ob_gateway_core)
ob_cmocka_test(test_gw_poller
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_poller.c
          ${CMAKE_CURRENT_SOURCE_DIR}/unit/gw_alloc.c
  LIBS ob_gateway_core PkgConfig::JANSSON ${OB_GW_WRAP_ALLOC})
ob_cmocka_test(test_gw_command
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_command.c
          ${CMAKE_CURRENT_SOURCE_DIR}/unit/gw_alloc.c
  LIBS ob_gateway_core PkgConfig::JANSSON ${OB_GW_WRAP_ALLOC})
# The Ordering API facade's writes (gateway/facade_write.c, in ob_gateway_rest).
ob_cmocka_test(test_gw_facade_write
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_facade_write.c
          ${CMAKE_CURRENT_SOURCE_DIR}/unit/gw_alloc.c
  LIBS ob_gateway_rest PkgConfig::JANSSON ${OB_GW_WRAP_ALLOC})
# The facade's triggers out (gateway/facade_trigger.c, ob_gateway_daemon): the pure part,
# and notifications against a loopback receiver.
ob_cmocka_test(test_gw_facade_trigger
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_facade_trigger.c
          ${CMAKE_CURRENT_SOURCE_DIR}/doubles/double_http.c
  LIBS ob_gateway_daemon)
target_include_directories(test_gw_facade_trigger PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/doubles)
# The daemon's trigger request parser (gateway/trigger.c, in ob_gateway_daemon).
ob_cmocka_test(test_gw_trigger
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_trigger.c
  LIBS ob_gateway_daemon)
# The daemon's LMDB state (gateway/gw_store.c): cursors, projects, HTTP subscription owners.
ob_cmocka_test(test_gw_store
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_store.c
  LIBS ob_gateway_daemon)
# HTTP subscriptions without a broker (gateway/rest_subs.c): the handle key file, routing and
# body checks, pattern rights.
ob_cmocka_test(test_gw_rest_subs
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_rest_subs.c
  LIBS ob_gateway_daemon)
# The daemon's configuration (gateway/gw_config.c): sections, flags, checks, secrets.
ob_cmocka_test(test_gw_config
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_config.c
  LIBS ob_gateway_daemon)
# The REST side's pure logic (ob_gateway_rest, issue 15): the tokens file and its rules, and
# `orderbus-keys token` fed back to it; the rate limit on an injected clock; delivery handles;
# the request bodies and their errors.
ob_cmocka_test(test_gw_handle
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_handle.c
  LIBS ob_gateway_rest)
ob_cmocka_test(test_gw_rate_limit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_rate_limit.c
  LIBS ob_gateway_rest)
ob_cmocka_test(test_gw_tokens
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_tokens.c
  LIBS ob_gateway_rest)
set_property(TEST test_gw_tokens APPEND PROPERTY ENVIRONMENT "OB_KEYS=$<TARGET_FILE:orderbus-keys>")
add_dependencies(test_gw_tokens orderbus-keys)
ob_cmocka_test(test_gw_rest_parse
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_rest_parse.c
          ${CMAKE_CURRENT_SOURCE_DIR}/unit/gw_alloc.c
  LIBS ob_gateway_rest PkgConfig::JANSSON ${OB_GW_WRAP_ALLOC})
# The OpenAPI document (gateway/openapi.json): JSON without repeated keys, every $ref, the
# routes' parameters and error answers, the error codes against rest_parse.c's table, and the
# parsers' example bodies against its schemas; with Debian's python3-jsonschema (in
# deploy/install-deps.sh) every schema as JSON Schema 2020-12, OpenAPI 3.1's dialect.
# Debian's interpreter first: its packages are the ones install-deps.sh provides.
find_program(OB_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(OB_PYTHON3 python3)
if(OB_PYTHON3)
  add_test(NAME gw_openapi
           COMMAND ${OB_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/unit/check_openapi.py
                   ${PROJECT_SOURCE_DIR}/gateway/openapi.json
                   ${PROJECT_SOURCE_DIR}/gateway/rest_parse.c)
  set_tests_properties(gw_openapi PROPERTIES TIMEOUT 60)
else()
  message(WARNING "python3 not found: gw_openapi is not registered")
endif()
# The Ordering API facade's read side (gateway/facade_read.c, issue 17): routes, query rules,
# every endpoint's answer and error from a table source, what the view keeps of an event.
ob_cmocka_test(test_gw_facade_read
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_facade_read.c
  LIBS ob_gateway_core PkgConfig::JANSSON)
# The facade's view (gateway/facade_view.c) without a broker: ranges applied to a real LMDB
# environment and read back; position, retention, reopen, reset.
ob_cmocka_test(test_gw_facade_view
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_facade_view.c
  LIBS ob_gateway_daemon)
