# orderbus-jira's pure core (adapters/jira/, ob_jira_core, issue 16): the configuration, the
# Jira request bodies built from events, the webhook parser. No network: the classes are
# driven directly.
foreach(name IN ITEMS config build hook)
  ob_cmocka_test(test_jira_${name}
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_jira_${name}.c
    LIBS ob_jira_core)
endforeach()
target_compile_definitions(test_jira_config PRIVATE
  OB_JIRA_EXAMPLE_CFG="${PROJECT_SOURCE_DIR}/deploy/orderbus-jira.cfg"
  OB_JIRA_ETC_CFG="${PROJECT_SOURCE_DIR}/deploy/etc/orderbus-jira.cfg")
