// Typed wrappers for libcurl's variadic functions, which Swift cannot call.
#ifndef NHACVIEC_CCURLSHIM_H
#define NHACVIEC_CCURLSHIM_H

#include <curl/curl.h>

typedef size_t (*nv_data_callback)(char *buffer, size_t size, size_t count, void *userdata);

CURLcode nv_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode nv_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode nv_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode nv_easy_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode nv_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode nv_easy_setopt_callback(CURL *handle, CURLoption option, nv_data_callback callback);

/// A debug callback: libcurl's commands out and server lines in, as SMTP needs to pair each
/// RCPT with its reply. Sets CURLOPT_VERBOSE, which only routes the lines to the callback.
typedef int (*nv_debug_callback)(CURL *handle, curl_infotype type, char *data, size_t size, void *userdata);
CURLcode nv_easy_setopt_debug(CURL *handle, nv_debug_callback callback, void *userdata);
/// Goes on with an SMTP transaction when some recipients are refused (MAIL_RCPT_ALLOWFAILS).
CURLcode nv_easy_setopt_rcpt_allowfails(CURL *handle);

CURLcode nv_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode nv_easy_getinfo_double(CURL *handle, CURLINFO info, double *value);
CURLcode nv_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value);

CURLMcode nv_multi_setopt_long(CURLM *multi, CURLMoption option, long value);

/// A share object holding a connection cache of its own: the easy handles given it reuse only
/// each other's connections. NULL if libcurl cannot make one.
CURLSH *nv_share_connections(void);

/// The easy handle and result of a finished transfer, or 0 when the message is not CURLMSG_DONE.
int nv_multi_done(CURLMsg *message, CURL **handle, CURLcode *result);

#endif
