# Integration tests: real orderbus-broker processes on loopback, each in its own scratch dir.
add_library(ob_broker_proc STATIC ${CMAKE_CURRENT_SOURCE_DIR}/integration/broker_proc.c)
target_include_directories(ob_broker_proc PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/integration)
target_link_libraries(ob_broker_proc PUBLIC orderbus_static ob_flags Threads::Threads)

ob_cmocka_test(test_crash TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_crash.c
  LIBS ob_broker_proc ob_broker_core)

# GET /metrics of a real broker: counters that move, bounded labels, 404/405, metrics off, a
# port taken; the scrape through `promtool check metrics` (Debian package prometheus).
ob_cmocka_test(test_metrics TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_metrics.c
  LIBS ob_broker_proc)
find_program(OB_PROMTOOL promtool)
if(OB_PROMTOOL)
  set_property(TEST test_metrics APPEND PROPERTY ENVIRONMENT "OB_PROMTOOL=${OB_PROMTOOL}")
else()
  message(WARNING "promtool not found (Debian package prometheus): test_metrics does not run "
                  "promtool check metrics")
endif()

# cmake --install gives the binaries, headers, library and a pkg-config file that works.
# (Not in sanitizer builds: a program without the sanitizer runtime cannot link their library.)
if(NOT OB_INSTRUMENTED)
  add_test(NAME test_install
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_install.sh ${CMAKE_BINARY_DIR}
                   ${CMAKE_C_COMPILER})
  set_tests_properties(test_install PROPERTIES TIMEOUT 120)
endif()

# Hot backup with mdb_copy (README "Backup and restore") and one broker per data directory.
find_program(OB_MDB_COPY_EXE mdb_copy)
if(OB_MDB_COPY_EXE)
  ob_cmocka_test(test_backup TIMEOUT 300
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_backup.c
    LIBS ob_broker_proc)
  target_compile_definitions(test_backup PRIVATE OB_MDB_COPY="${OB_MDB_COPY_EXE}")
else()
  message(WARNING "mdb_copy not found (Debian: lmdb-utils, deploy/install-deps.sh): "
                  "test_backup is not built")
endif()

# The example clients (proto/examples/) against real brokers on ipc endpoints: exit statuses,
# the broker's reasons, what a timeout says and how long --timeout waits.
add_test(NAME test_examples
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_examples.sh ${CMAKE_BINARY_DIR}
                 ${PROJECT_SOURCE_DIR})
set_tests_properties(test_examples PROPERTIES TIMEOUT 120)

# The README's security commands, as written, after the Quick start's first command, in a
# network namespace of its own (their ports are fixed); skipped where there is none.
add_test(NAME test_readme_security
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_readme_security.sh
                 ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(test_readme_security PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)

# The README's Python REST client (gateway/examples/rest_client.py) against a real broker and
# gateway: publish, subscribe, fetch, ack; the README shows the file as it is.
add_test(NAME test_rest_python
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_rest_python.sh ${CMAKE_BINARY_DIR}
                 ${PROJECT_SOURCE_DIR})
set_tests_properties(test_rest_python PROPERTIES TIMEOUT 120)

# The gateway upstream connector (connector.cmake).
include(${CMAKE_CURRENT_LIST_DIR}/connector.cmake)
# The webhook adapter end to end (webhook.cmake).
include(${CMAKE_CURRENT_LIST_DIR}/webhook.cmake)
# The Jira adapter end to end (jira.cmake).
include(${CMAKE_CURRENT_LIST_DIR}/jira.cmake)

# A store written by 0.5 (tests/data/store-0.5) loads: events, subscriptions, positions.
ob_cmocka_test(test_upgrade TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_upgrade.c
  LIBS ob_broker_proc PkgConfig::JANSSON)
target_compile_definitions(test_upgrade PRIVATE OB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

# orderbus-gateway end to end (issue 14): real broker, Marketplace double and gateway
# (gw_proc starts the gateway, as broker_proc the broker; daemon_proc, in the same library,
# any daemon that serves HTTP: the gateway, the webhook adapter).
add_library(ob_gw_proc STATIC ${CMAKE_CURRENT_SOURCE_DIR}/integration/gw_proc.c
                              ${CMAKE_CURRENT_SOURCE_DIR}/integration/daemon_proc.c)
target_include_directories(ob_gw_proc PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/integration)
target_link_libraries(ob_gw_proc PUBLIC ob_flags PkgConfig::CZMQ PkgConfig::CURL)
ob_cmocka_test(test_gateway_feed TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_gateway_feed.c
  LIBS ob_broker_proc ob_gw_proc ob_mp_double_proc ob_common PkgConfig::CURL
       PkgConfig::JANSSON)
set_property(TEST test_gateway_feed APPEND PROPERTY ENVIRONMENT
             "OB_MP_DOUBLE=$<TARGET_FILE:orderbus-mp-double>"
             "OB_GATEWAY=$<TARGET_FILE:orderbus-gateway>")
add_dependencies(test_gateway_feed orderbus-mp-double orderbus-gateway)

# The gateway's REST API (issue 15): real broker and gateway, libcurl as the HTTP client
# (rest_http, which records every answer for the OpenAPI check when OB_REST_RECORD is set).
add_library(ob_rest_http STATIC ${CMAKE_CURRENT_SOURCE_DIR}/integration/rest_http.c)
target_include_directories(ob_rest_http PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/integration)
target_link_libraries(ob_rest_http PUBLIC ob_flags ob_common PkgConfig::CURL PkgConfig::JANSSON
                      PkgConfig::CMOCKA)
ob_cmocka_test(test_gateway_rest TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_gateway_rest.c
  LIBS ob_broker_proc ob_gw_proc ob_rest_http ob_mp_double_proc ob_common PkgConfig::CURL
       PkgConfig::JANSSON)
set_property(TEST test_gateway_rest APPEND PROPERTY ENVIRONMENT
             "OB_GATEWAY=$<TARGET_FILE:orderbus-gateway>"
             "OB_MP_DOUBLE=$<TARGET_FILE:orderbus-mp-double>")
target_compile_definitions(test_gateway_rest PRIVATE OB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(test_gateway_rest orderbus-gateway orderbus-mp-double)

# The Ordering API facade's writes and triggers out (issue 17): real broker, Marketplace
# double and gateway; each write through the facade compared with the double's own answer.
ob_cmocka_test(test_gateway_facade_write TIMEOUT 240
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_gateway_facade_write.c
  LIBS ob_broker_proc ob_gw_proc ob_rest_http ob_mp_double_proc ob_common PkgConfig::CURL
       PkgConfig::JANSSON PkgConfig::MHD Threads::Threads)
set_property(TEST test_gateway_facade_write APPEND PROPERTY ENVIRONMENT
             "OB_GATEWAY=$<TARGET_FILE:orderbus-gateway>"
             "OB_MP_DOUBLE=$<TARGET_FILE:orderbus-mp-double>")
add_dependencies(test_gateway_facade_write orderbus-gateway orderbus-mp-double)

# The compatibility check (issue 17): the compatibility client (mp_compat_client, written
# from marketplace-api-client and the reference adapter) runs one scenario against a
# Marketplace double and through the gateway's facade against another; both must see the
# same.
add_library(ob_mp_compat_client STATIC ${CMAKE_CURRENT_SOURCE_DIR}/integration/mp_compat_client.c)
target_include_directories(ob_mp_compat_client PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/integration)
target_link_libraries(ob_mp_compat_client PUBLIC ob_flags PkgConfig::CURL PkgConfig::JANSSON
                      PkgConfig::MHD Threads::Threads)
ob_cmocka_test(test_mp_compat TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_mp_compat.c
  LIBS ob_mp_compat_client ob_broker_proc ob_gw_proc ob_rest_http ob_mp_double_proc ob_common
       PkgConfig::CURL PkgConfig::JANSSON)
set_property(TEST test_mp_compat APPEND PROPERTY ENVIRONMENT
             "OB_GATEWAY=$<TARGET_FILE:orderbus-gateway>"
             "OB_MP_DOUBLE=$<TARGET_FILE:orderbus-mp-double>")
add_dependencies(test_mp_compat orderbus-gateway orderbus-mp-double)

# The REST stream (Server-Sent Events): a broker and a gateway, a libcurl multi reader.
ob_cmocka_test(test_gateway_stream TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_gateway_stream.c
  LIBS ob_broker_proc ob_gw_proc ob_rest_http ob_common PkgConfig::CURL PkgConfig::JANSSON)
set_property(TEST test_gateway_stream APPEND PROPERTY ENVIRONMENT
             "OB_GATEWAY=$<TARGET_FILE:orderbus-gateway>")
add_dependencies(test_gateway_stream orderbus-gateway)
# HTTP subscriptions (gateway/rest_subs.h): fetch, ack, nack, redelivery, dead letters,
# resume after kill -9 of the gateway or the broker, refusals.
ob_cmocka_test(test_gateway_subs TIMEOUT 240
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_gateway_subs.c
  LIBS ob_broker_proc ob_gw_proc ob_rest_http ob_common PkgConfig::CURL PkgConfig::JANSSON
       Threads::Threads)
set_property(TEST test_gateway_subs APPEND PROPERTY ENVIRONMENT
             "OB_GATEWAY=$<TARGET_FILE:orderbus-gateway>")
add_dependencies(test_gateway_subs orderbus-gateway)
# The Ordering API facade's read side (gateway/facade.h, issue 17): the Marketplace double, a
# broker and the gateway; the facade's answers compared with the double's, 100 events in one
# second, kill -9 of the gateway, the view deleted.
ob_cmocka_test(test_gateway_facade TIMEOUT 240
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_gateway_facade.c
  LIBS ob_broker_proc ob_gw_proc ob_rest_http ob_mp_double_proc ob_common PkgConfig::CURL
       PkgConfig::JANSSON)
set_property(TEST test_gateway_facade APPEND PROPERTY ENVIRONMENT
             "OB_GATEWAY=$<TARGET_FILE:orderbus-gateway>"
             "OB_MP_DOUBLE=$<TARGET_FILE:orderbus-mp-double>")
add_dependencies(test_gateway_facade orderbus-gateway orderbus-mp-double)
