#include "orderbus/error.h"
