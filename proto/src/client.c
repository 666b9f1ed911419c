#include "orderbus/client.h"
