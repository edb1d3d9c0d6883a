#ifndef NHACVIEC_CLIBPQ_SHIM_H
#define NHACVIEC_CLIBPQ_SHIM_H
#include <postgresql/libpq-fe.h>
#endif
