#ifndef NHACVIEC_CBUILDINFO_H
#define NHACVIEC_CBUILDINFO_H

// The version lives here and nowhere else: the binary's `--version` and `status` read it, and
// scripts/package reads it (the line below) to name the .deb.
#define NHACVIEC_VERSION "0.2.0"

// scripts/package sets these with `-Xcc -DNHACVIEC_COMMIT=…`; a plain `swift build` from a
// checkout needs no flags and says "unknown".
#ifndef NHACVIEC_COMMIT
#define NHACVIEC_COMMIT "unknown"
#endif
#ifndef NHACVIEC_BUILD_DATE
#define NHACVIEC_BUILD_DATE "unknown"
#endif

static inline const char *nhacviec_version(void) { return NHACVIEC_VERSION; }
static inline const char *nhacviec_commit(void) { return NHACVIEC_COMMIT; }
static inline const char *nhacviec_build_date(void) { return NHACVIEC_BUILD_DATE; }

#endif
