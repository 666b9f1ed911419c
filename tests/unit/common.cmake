# Unit tests of ob_common (common/), a cmocka file per class (token: the gateway's bearer
# tokens, shared with orderbus-keys).
foreach(class IN ITEMS options file base64 daemon mdb metrics token)
  ob_cmocka_test(test_common_${class}
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_${class}.c
    LIBS ob_common)
endforeach()

# The registry's sample text through Prometheus's own linter (Debian package prometheus, in
# deploy/install-deps.sh): names, HELP, TYPE, escaping and histogram series as Prometheus
# wants them.
find_program(OB_PROMTOOL promtool)
if(OB_PROMTOOL)
  add_test(NAME common_metrics_promtool
           COMMAND sh -c "\"$1\" --sample > \"$2\" && \"$3\" check metrics < \"$2\"" sh
                   $<TARGET_FILE:test_common_metrics>
                   ${CMAKE_CURRENT_BINARY_DIR}/metrics_sample.txt ${OB_PROMTOOL})
  set_tests_properties(common_metrics_promtool PROPERTIES TIMEOUT 60)
else()
  message(WARNING "promtool not found (Debian package prometheus): common_metrics_promtool "
                  "is not registered")
endif()
