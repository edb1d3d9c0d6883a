#ifndef PG_CLIENT_CLIBPQ_SHIM_H
#define PG_CLIENT_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
