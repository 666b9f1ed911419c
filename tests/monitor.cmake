# orderbus-monitor (issue 5) and the event's JSON form in liborderbus (event_json.h).
ob_cmocka_test(test_event_json
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_event_json.c
  LIBS PkgConfig::JANSSON)

# The built orderbus-monitor as a subprocess against a real broker process started with
# deploy/orderbus-broker.cfg: its tables, --json and exit codes.
ob_cmocka_test(test_monitor TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_monitor.c
  LIBS ob_broker_proc PkgConfig::JANSSON)
target_compile_definitions(test_monitor PRIVATE OB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
set_property(TEST test_monitor APPEND PROPERTY ENVIRONMENT
             "OB_MONITOR=$<TARGET_FILE:orderbus-monitor>")
add_dependencies(test_monitor orderbus-monitor orderbus-broker)
