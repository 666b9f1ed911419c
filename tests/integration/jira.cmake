# orderbus-jira end to end (issue 16): a real broker, the adapter and the Jira double as
# processes; events published on oms.7 as the gateway would, commands read on mp.7.
ob_cmocka_test(test_jira TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_jira.c
  LIBS ob_broker_proc ob_gw_proc ob_jira_double_proc ob_common PkgConfig::JANSSON PkgConfig::CURL)
set_property(TEST test_jira APPEND PROPERTY ENVIRONMENT
             "OB_JIRA=$<TARGET_FILE:orderbus-jira>"
             "OB_JIRA_DOUBLE=$<TARGET_FILE:orderbus-jira-double>")
add_dependencies(test_jira orderbus-jira orderbus-jira-double)
