/*  orderbus: the public API of liborderbus. Include this one header. */
#ifndef OB_ORDERBUS_H
#define OB_ORDERBUS_H

/* The one place of the release's version: the string is made from the three numbers, and
   CMake reads them from here for project(VERSION), the shared library's VERSION and
   liborderbus.pc. */
#define OB_VERSION_MAJOR 0
#define OB_VERSION_MINOR 7
#define OB_VERSION_PATCH 0

#define OB_VERSION_STR_(x) #x
#define OB_VERSION_XSTR_(x) OB_VERSION_STR_(x)
#define OB_VERSION_STRING                                                                          \
    OB_VERSION_XSTR_(OB_VERSION_MAJOR)                                                             \
    "." OB_VERSION_XSTR_(OB_VERSION_MINOR) "." OB_VERSION_XSTR_(OB_VERSION_PATCH)

#include "orderbus/client.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/event_json.h"
#include "orderbus/limits.h"
#include "orderbus/pattern.h"
#include "orderbus/result_json.h"
#include "orderbus/wire.h"

#endif
