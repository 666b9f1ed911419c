# The gateway's upstream connector (gateway/connector.h, issue 14 item 4) against a real
# broker and a real Marketplace double; kill -9 runs the connector in a child process (this
# test's program again, with --child).
ob_cmocka_test(test_gw_connector TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_gw_connector.c
  LIBS ob_gateway_connector ob_broker_proc ob_mp_double_proc)
set_property(TEST test_gw_connector APPEND PROPERTY ENVIRONMENT
             "OB_MP_DOUBLE=$<TARGET_FILE:orderbus-mp-double>")
add_dependencies(test_gw_connector orderbus-mp-double)
