# Security (PROTOCOL.md 14): the permissions parser and rules, and CURVE end to end through
# the server actor with real CURVE peers (tests/integration/test_security.c).
ob_cmocka_test(test_perms
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_perms.c
  LIBS ob_broker_core)
set_property(TEST test_perms APPEND PROPERTY ENVIRONMENT "OB_KEYS=$<TARGET_FILE:orderbus-keys>")
add_dependencies(test_perms orderbus-keys)
ob_cmocka_test(test_security TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_security.c
  LIBS ob_test_peer ob_broker_proc)
target_compile_definitions(test_security PRIVATE OB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
