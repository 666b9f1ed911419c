# Unit tests of liborderbus and its codec (proto/src, proto/codec): error names, msgpack
# pre-scan, event and wire frames.
# Dependencies are wrapped at link time (-Wl,--wrap) where a test needs to count or fail them.
ob_cmocka_test(test_proto_error
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_error.c
  LIBS Threads::Threads)
target_compile_definitions(test_proto_error PRIVATE OB_PROJECT_VERSION="${PROJECT_VERSION}")
ob_cmocka_test(test_proto_mpscan
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_mpscan.c
  LIBS ob_codec -Wl,--wrap=msgpack_unpack_next)
ob_cmocka_test(test_proto_event
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_event.c
  LIBS ob_codec -Wl,--wrap=malloc -Wl,--wrap=msgpack_unpack_next)
ob_cmocka_test(test_proto_wire
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_wire.c
  LIBS ob_codec)
# The command table (codec/command_table.h) against the protocol.
ob_cmocka_test(test_proto_command
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_command.c
  LIBS ob_codec)
ob_cmocka_test(test_proto_pattern
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_pattern.c)
ob_cmocka_test(test_proto_result_json
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_result_json.c)
# The tree-free reader of event JSON against the tree reader (proto/src/event_json_read.h).
ob_cmocka_test(test_proto_event_json_read
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_event_json_read.c
  LIBS -Wl,--wrap=malloc -Wl,--wrap=realloc)
target_include_directories(test_proto_event_json_read PRIVATE ${PROJECT_SOURCE_DIR}/proto/src)
