# orderbus-webhook end to end (issue 16): a real broker, the adapter as a process, and a
# receiver inside the test that verifies every signature itself.
ob_cmocka_test(test_webhook TIMEOUT 240
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_webhook.c
  LIBS ob_broker_proc ob_gw_proc ob_common PkgConfig::MHD PkgConfig::JANSSON PkgConfig::CURL)
set_property(TEST test_webhook APPEND PROPERTY ENVIRONMENT
             "OB_WEBHOOK=$<TARGET_FILE:orderbus-webhook>")
add_dependencies(test_webhook orderbus-webhook)

# The way back: an OMS's signed commands on mp.<oms_id> (test_webhook_commands.c).
ob_cmocka_test(test_webhook_commands TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_webhook_commands.c
  LIBS ob_broker_proc ob_gw_proc ob_common PkgConfig::JANSSON PkgConfig::CURL)
set_property(TEST test_webhook_commands APPEND PROPERTY ENVIRONMENT
             "OB_WEBHOOK=$<TARGET_FILE:orderbus-webhook>")
add_dependencies(test_webhook_commands orderbus-webhook)

# The receiver down for 30 s (label long: ctest -LE long skips it).
add_test(NAME test_webhook_long COMMAND test_webhook long)
set_tests_properties(test_webhook_long PROPERTIES TIMEOUT 180 LABELS long ENVIRONMENT
                     "OB_BROKER=$<TARGET_FILE:orderbus-broker>;OB_WEBHOOK=$<TARGET_FILE:orderbus-webhook>")
