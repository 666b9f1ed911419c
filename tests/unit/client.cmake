# liborderbus client tests, against a scriptable fake broker (tests/doubles/fake_broker.h).
ob_cmocka_test(test_client
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_client.c
          ${CMAKE_CURRENT_SOURCE_DIR}/doubles/fake_broker.c
  LIBS ob_codec)
target_include_directories(test_client PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/doubles)
# Failure injection (STYLE.md, Tests): test_client.c defines the wrappers.
target_link_options(test_client PRIVATE -Wl,--wrap=malloc -Wl,--wrap=calloc
                    -Wl,--wrap=zmq_send)
ob_cmocka_test(test_client_subs
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_client_subs.c
          ${CMAKE_CURRENT_SOURCE_DIR}/doubles/fake_broker.c
  LIBS ob_codec)
target_include_directories(test_client_subs PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/doubles)
target_link_options(test_client_subs PRIVATE -Wl,--wrap=malloc -Wl,--wrap=calloc)
