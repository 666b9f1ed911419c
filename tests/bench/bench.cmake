# orderbus-bench: a program that prints figures, not a test.
add_executable(orderbus-bench ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench.c
                              ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_subs.c)
target_link_libraries(orderbus-bench PRIVATE ob_flags orderbus_static ob_broker_proc PkgConfig::LMDB
                      Threads::Threads)
target_compile_definitions(orderbus-bench PRIVATE
                           OB_BENCH_BROKER="$<TARGET_FILE:orderbus-broker>")
