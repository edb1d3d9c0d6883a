#ifndef NHACVIEC_CCURL_SHIM_H
#define NHACVIEC_CCURL_SHIM_H
#include <curl/curl.h>
#endif
