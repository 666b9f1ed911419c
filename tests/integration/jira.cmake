# orderbus-jira end to end (issue 16): a real broker, the adapter and the Jira double as
# processes; events published on oms.7 as the gateway would, commands read on mp.7; and
# once through the real gateway and the Marketplace double.
ob_cmocka_test(test_jira TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_jira.c
  LIBS ob_broker_proc ob_gw_proc ob_jira_double_proc ob_mp_double_proc ob_common PkgConfig::JANSSON PkgConfig::CURL)
set_property(TEST test_jira APPEND PROPERTY ENVIRONMENT
             "OB_JIRA=$<TARGET_FILE:orderbus-jira>"
             "OB_JIRA_DOUBLE=$<TARGET_FILE:orderbus-jira-double>"
             "OB_MP_DOUBLE=$<TARGET_FILE:orderbus-mp-double>"
             "OB_GATEWAY=$<TARGET_FILE:orderbus-gateway>")
add_dependencies(test_jira orderbus-jira orderbus-jira-double orderbus-mp-double orderbus-gateway)

# The long runs (label long: ctest -LE long skips them): kill -9 of the adapter at random
# points of 200 orders through the gateway, and Jira stopped for 30 s (about 60 s in all).
add_test(NAME test_jira_long COMMAND test_jira long)
set_tests_properties(test_jira_long PROPERTIES TIMEOUT 300 LABELS long ENVIRONMENT
                     "OB_BROKER=$<TARGET_FILE:orderbus-broker>;OB_JIRA=$<TARGET_FILE:orderbus-jira>;OB_JIRA_DOUBLE=$<TARGET_FILE:orderbus-jira-double>;OB_MP_DOUBLE=$<TARGET_FILE:orderbus-mp-double>;OB_GATEWAY=$<TARGET_FILE:orderbus-gateway>")
