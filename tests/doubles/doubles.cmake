# Test doubles (tests/doubles/README.md): real HTTP server processes standing in for the
# services orderbus talks to, their C helpers for tests (*_proc), and their tests.
# double_main.c (arguments, port file, signals), double_http.c (libmicrohttpd glue) and
# double_proc.c (the tests' side) hold what the doubles and their helpers share.
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)

# double_proc: start a double on an ephemeral port, stop it, make an HTTP call to it.
add_library(ob_double_proc STATIC ${CMAKE_CURRENT_SOURCE_DIR}/doubles/double_proc.c)
target_include_directories(ob_double_proc PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/doubles)
target_link_libraries(ob_double_proc PUBLIC ob_flags PkgConfig::CURL)

# orderbus-mp-double: the EOSC Marketplace Ordering API.
add_executable(orderbus-mp-double
  ${CMAKE_CURRENT_SOURCE_DIR}/doubles/double_main.c
  ${CMAKE_CURRENT_SOURCE_DIR}/doubles/double_http.c
  ${CMAKE_CURRENT_SOURCE_DIR}/doubles/mp_double_main.c
  ${CMAKE_CURRENT_SOURCE_DIR}/doubles/mp_double_api.c
  ${CMAKE_CURRENT_SOURCE_DIR}/doubles/mp_double_store.c
  ${CMAKE_CURRENT_SOURCE_DIR}/doubles/mp_double_trigger.c)
target_link_libraries(orderbus-mp-double PRIVATE ob_flags PkgConfig::MHD PkgConfig::CURL
                      PkgConfig::JANSSON Threads::Threads)

# mp_double_proc: the Marketplace double from C (JSON in, JSON out).
add_library(ob_mp_double_proc STATIC ${CMAKE_CURRENT_SOURCE_DIR}/doubles/mp_double_proc.c)
target_include_directories(ob_mp_double_proc PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/doubles)
target_link_libraries(ob_mp_double_proc PUBLIC ob_double_proc ob_flags PkgConfig::CURL
                      PkgConfig::JANSSON Threads::Threads)

ob_cmocka_test(test_mp_double TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/doubles/test_mp_double.c
  LIBS ob_mp_double_proc PkgConfig::MHD)
set_property(TEST test_mp_double APPEND PROPERTY ENVIRONMENT
             "OB_MP_DOUBLE=$<TARGET_FILE:orderbus-mp-double>")
add_dependencies(test_mp_double orderbus-mp-double)

# orderbus-jira-double: Jira Server/Data Center (REST API v2 subset, webhooks).
add_executable(orderbus-jira-double
  ${CMAKE_CURRENT_SOURCE_DIR}/doubles/double_main.c
  ${CMAKE_CURRENT_SOURCE_DIR}/doubles/double_http.c
  ${CMAKE_CURRENT_SOURCE_DIR}/doubles/jira_double_main.c
  ${CMAKE_CURRENT_SOURCE_DIR}/doubles/jira_double_api.c
  ${CMAKE_CURRENT_SOURCE_DIR}/doubles/jira_double_store.c
  ${CMAKE_CURRENT_SOURCE_DIR}/doubles/jira_double_jql.c
  ${CMAKE_CURRENT_SOURCE_DIR}/doubles/jira_double_hooks.c)
target_link_libraries(orderbus-jira-double PRIVATE ob_flags PkgConfig::MHD PkgConfig::CURL
                      PkgConfig::JANSSON PkgConfig::SODIUM Threads::Threads)

# jira_double_proc: the Jira double from C (basic or bearer credentials, JSON in and out).
add_library(ob_jira_double_proc STATIC ${CMAKE_CURRENT_SOURCE_DIR}/doubles/jira_double_proc.c)
target_include_directories(ob_jira_double_proc PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/doubles)
target_link_libraries(ob_jira_double_proc PUBLIC ob_double_proc ob_flags PkgConfig::CURL
                      PkgConfig::JANSSON)

ob_cmocka_test(test_jira_double TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/doubles/test_jira_double.c
  LIBS ob_jira_double_proc PkgConfig::MHD PkgConfig::SODIUM Threads::Threads)
set_property(TEST test_jira_double APPEND PROPERTY ENVIRONMENT
             "OB_JIRA_DOUBLE=$<TARGET_FILE:orderbus-jira-double>")
add_dependencies(test_jira_double orderbus-jira-double)
