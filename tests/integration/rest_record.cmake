# Every answer the REST tests receive, against gateway/openapi.json (issue 15). Each test of
# OB_REST_RECORDING_TESTS runs with OB_REST_RECORD naming its own record file in the build
# tree, to which rest_http.c appends a line per answer; gw_rest_records_clear empties them
# first (fixture gw_rest_records), and gw_openapi_answers runs openapi_check.py on them all
# after the tests ran (fixture gw_rest_answers, so `ctest -R gw_openapi_answers` runs them
# too). A missing or empty file fails the check: a test that stops recording is caught.
# One file per test, not one shared: under ctest -j tests run at once, and a line over
# stdio's buffer (the OpenAPI document's answer is 60 KB) is written in several write()s,
# which O_APPEND keeps whole each but not together across processes.
# Included last by tests/CMakeLists.txt, once every test exists. Add a REST test by its name:
set(OB_REST_RECORDING_TESTS test_gateway_rest test_gateway_stream test_gateway_subs
    test_gateway_facade test_gateway_facade_write test_mp_compat)

# Debian's interpreter first: its python3-jsonschema is the one install-deps.sh provides.
find_program(OB_PYTHON3 python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(OB_PYTHON3 python3)
if(NOT OB_PYTHON3)
  message(WARNING "python3 not found: gw_openapi_answers is not registered")
  return()
endif()

set(OB_REST_RECORD_DIR ${CMAKE_CURRENT_BINARY_DIR}/rest-records)
file(MAKE_DIRECTORY ${OB_REST_RECORD_DIR})
set(OB_REST_RECORDS)
foreach(test IN LISTS OB_REST_RECORDING_TESTS)
  if(NOT TEST ${test})
    message(FATAL_ERROR "OB_REST_RECORDING_TESTS names ${test}, which is not a test")
  endif()
  set(record ${OB_REST_RECORD_DIR}/${test}.jsonl)
  list(APPEND OB_REST_RECORDS ${record})
  set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT "OB_REST_RECORD=${record}")
  set_property(TEST ${test} APPEND PROPERTY FIXTURES_REQUIRED gw_rest_records)
  set_property(TEST ${test} APPEND PROPERTY FIXTURES_SETUP gw_rest_answers)
endforeach()
add_test(NAME gw_rest_records_clear COMMAND ${CMAKE_COMMAND} -E rm -f ${OB_REST_RECORDS})
set_tests_properties(gw_rest_records_clear PROPERTIES FIXTURES_SETUP gw_rest_records)
add_test(NAME gw_openapi_answers
         COMMAND ${OB_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/openapi_check.py
                 ${PROJECT_SOURCE_DIR}/gateway/openapi.json ${OB_REST_RECORDS})
set_tests_properties(gw_openapi_answers PROPERTIES FIXTURES_REQUIRED gw_rest_answers TIMEOUT 60
                     SKIP_RETURN_CODE 77)

# The check can fail: crafted answers (tests/data/openapi/bad-answers.jsonl), each off the
# document in its own way, are each named with their reason; a missing and an empty record
# file fail; the answers that are right pass.
add_test(NAME gw_openapi_check_fails
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_openapi_check.sh ${OB_PYTHON3}
                 ${CMAKE_CURRENT_SOURCE_DIR}/integration/openapi_check.py
                 ${PROJECT_SOURCE_DIR}/gateway/openapi.json
                 ${CMAKE_CURRENT_SOURCE_DIR}/data/openapi/bad-answers.jsonl)
set_tests_properties(gw_openapi_check_fails PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77)
