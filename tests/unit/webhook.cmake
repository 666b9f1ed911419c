# orderbus-webhook's pure core (adapters/webhook/, ob_webhook_core, issue 16): signing against
# the Standard Webhooks test vector, the delivery body and dead letters, the verdict on an
# answer (Retry-After, backoff), the configuration. No network: the classes are driven
# directly.
foreach(name IN ITEMS sign answer body config verify)
  ob_cmocka_test(test_wh_${name}
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_wh_${name}.c
    LIBS ob_webhook_core)
endforeach()
target_compile_definitions(test_wh_config PRIVATE
  OB_WH_EXAMPLE_CFG="${PROJECT_SOURCE_DIR}/deploy/orderbus-webhook.cfg"
  OB_WH_ETC_CFG="${PROJECT_SOURCE_DIR}/deploy/etc/orderbus-webhook.cfg")
