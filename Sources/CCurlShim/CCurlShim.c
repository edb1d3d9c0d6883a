#include "CCurlShim.h"

CURLcode nv_easy_setopt_long(CURL *handle, CURLoption option, long value) {
  return curl_easy_setopt(handle, option, value);
}

CURLcode nv_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
  return curl_easy_setopt(handle, option, value);
}

CURLcode nv_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
  return curl_easy_setopt(handle, option, value);
}

CURLcode nv_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
  return curl_easy_setopt(handle, option, value);
}

CURLcode nv_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
  return curl_easy_setopt(handle, option, value);
}

CURLcode nv_easy_setopt_callback(CURL *handle, CURLoption option, nv_data_callback callback) {
  return curl_easy_setopt(handle, option, callback);
}

CURLcode nv_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
  return curl_easy_getinfo(handle, info, value);
}

CURLcode nv_easy_getinfo_double(CURL *handle, CURLINFO info, double *value) {
  return curl_easy_getinfo(handle, info, value);
}

CURLcode nv_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
  return curl_easy_getinfo(handle, info, value);
}

CURLMcode nv_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
  return curl_multi_setopt(multi, option, value);
}

int nv_multi_done(CURLMsg *message, CURL **handle, CURLcode *result) {
  if (message == NULL || message->msg != CURLMSG_DONE) return 0;
  *handle = message->easy_handle;
  *result = message->data.result;
  return 1;
}

CURLcode nv_easy_setopt_debug(CURL *handle, nv_debug_callback callback, void *userdata) {
  CURLcode result = curl_easy_setopt(handle, CURLOPT_DEBUGFUNCTION, callback);
  if (result != CURLE_OK) return result;
  result = curl_easy_setopt(handle, CURLOPT_DEBUGDATA, userdata);
  if (result != CURLE_OK) return result;
  // The debug function is called only in verbose mode; nothing is printed, it goes to the callback.
  return curl_easy_setopt(handle, CURLOPT_VERBOSE, 1L);
}

CURLcode nv_easy_setopt_rcpt_allowfails(CURL *handle) {
  // CURLOPT_MAIL_RCPT_ALLOWFAILS (290), spelt ALLLOWFAILS before libcurl 8.2.
  return curl_easy_setopt(handle, (CURLoption)(CURLOPTTYPE_LONG + 290), 1L);
}

CURLSH *nv_share_connections(void) {
  CURLSH *share = curl_share_init();
  if (share && curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK) {
    curl_share_cleanup(share);
    return NULL;
  }
  return share;
}
