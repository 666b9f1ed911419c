# Integration tests: real orderbus-broker processes on loopback, each in its own scratch dir.
add_library(ob_broker_proc STATIC ${CMAKE_CURRENT_SOURCE_DIR}/integration/broker_proc.c)
target_include_directories(ob_broker_proc PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/integration)
target_link_libraries(ob_broker_proc PUBLIC orderbus_static ob_flags)

ob_cmocka_test(test_crash TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_crash.c
  LIBS ob_broker_proc ob_broker_core Threads::Threads)

# cmake --install gives the binaries, headers, library and a pkg-config file that works.
# (Not in sanitizer builds: a program without the sanitizer runtime cannot link their library.)
if(NOT OB_SANITIZE AND NOT OB_FUZZ)
  add_test(NAME test_install
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_install.sh ${CMAKE_BINARY_DIR}
                   ${CMAKE_C_COMPILER})
  set_tests_properties(test_install PROPERTIES TIMEOUT 120)
endif()
