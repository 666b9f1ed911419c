/*  gw_proc: see gw_proc.h; daemon_proc does the work. */
#include "gw_proc.h"

#include <stdlib.h>

#include "daemon_proc.h"

_Static_assert(GW_PROC_URL_MAX == DAEMON_PROC_URL_MAX, "one URL size");
_Static_assert(GW_PROC_START_MS == DAEMON_PROC_START_MS, "one start wait");

pid_t
gw_proc_start(const char *dir, const char *cfg, char url[GW_PROC_URL_MAX])
{
    return daemon_proc_start(getenv("OB_GATEWAY"), "orderbus-gateway", dir, "gw", cfg, 0, url);
}

pid_t
gw_proc_start_logged(const char *dir, const char *cfg, char url[GW_PROC_URL_MAX])
{
    return daemon_proc_start(getenv("OB_GATEWAY"), "orderbus-gateway", dir, "gw", cfg, 1, url);
}

int
gw_proc_stop(pid_t pid, int sig)
{
    return daemon_proc_stop(pid, sig);
}
